"""DPoP proof verification (RFC 9449), the replay cache and htu normalisation."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcp_auth.reference.dpop import (
    DPoPProof,
    ReplayCache,
    ath_for,
    make_dpop_proof,
    normalize_htu,
    verify_dpop_proof,
)
from mcp_auth.reference.errors import InvalidDPoPProof, OAuthError, TemporarilyUnavailable
from mcp_auth.reference.jose import (
    b64url_decode,
    b64url_encode,
    generate_private_key,
    jwk_thumbprint,
    private_jwk,
    public_jwk,
    sign_compact,
)

NOW = 1_800_000_000
URL = "https://rs.example/data"
TOKEN = "header.payload.signature"


@pytest.fixture(params=["ES256", "EdDSA"])
def key(request: pytest.FixtureRequest) -> Any:
    return generate_private_key(request.param)


def _verify(proof: str, **kw: Any) -> DPoPProof:
    args: dict[str, Any] = {
        "method": "GET",
        "url": URL,
        "now": NOW,
        "replay_cache": ReplayCache(),
        "access_token": TOKEN,
    }
    args.update(kw)
    return verify_dpop_proof(proof, **args)


def _proof(key: Any, **kw: Any) -> str:
    args: dict[str, Any] = {"access_token": TOKEN, "iat": NOW}
    args.update(kw)
    return make_dpop_proof(key, public_jwk(key), "GET", URL, **args)


def _custom(key: Any, header: dict[str, Any], claims: dict[str, Any]) -> str:
    alg = header.get("alg", "ES256" if "EC" in type(key).__name__ else "EdDSA")
    return sign_compact({k: v for k, v in header.items() if k != "alg"}, claims, key, alg)


def _base(key: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    header = {"typ": "dpop+jwt", "jwk": public_jwk(key)}
    claims = {"jti": "j1", "htm": "GET", "htu": URL, "iat": NOW, "ath": ath_for(TOKEN)}
    return header, claims


def test_valid_proof(key: Any) -> None:
    result = _verify(_proof(key, jti="abc"))
    assert result.jkt == jwk_thumbprint(public_jwk(key))
    assert result.jti == "abc" and result.iat == NOW and result.htm == "GET"


def test_proof_without_access_token(key: Any) -> None:
    proof = make_dpop_proof(key, public_jwk(key), "POST", "https://as.example/token", iat=NOW)
    result = verify_dpop_proof(
        proof,
        method="POST",
        url="https://as.example/token",
        now=NOW,
        replay_cache=ReplayCache(),
    )
    assert result.htu == "https://as.example/token"


def test_replay_rejected(key: Any) -> None:
    cache = ReplayCache()
    proof = _proof(key)
    _verify(proof, replay_cache=cache)
    with pytest.raises(InvalidDPoPProof) as info:
        _verify(proof, replay_cache=cache)
    assert info.value.requirement == "MCPA-VER-024"


def test_same_jti_other_key_is_not_a_replay() -> None:
    cache = ReplayCache()
    k1, k2 = generate_private_key("ES256"), generate_private_key("ES256")
    _verify(_proof(k1, jti="same"), replay_cache=cache)
    _verify(_proof(k2, jti="same"), replay_cache=cache)


def test_rejected_proof_does_not_fill_cache(key: Any) -> None:
    cache = ReplayCache()
    proof = _proof(key)
    with pytest.raises(InvalidDPoPProof):
        _verify(proof, replay_cache=cache, method="POST")
    assert len(cache) == 0
    _verify(proof, replay_cache=cache)


def test_status_override(key: Any) -> None:
    with pytest.raises(InvalidDPoPProof) as info:
        _verify(_proof(key), method="POST", status=401)
    assert info.value.status == 401
    with pytest.raises(InvalidDPoPProof) as info:
        _verify(_proof(key), method="POST")
    assert info.value.status == 400


@pytest.mark.parametrize(
    ("header_change", "claims_change", "requirement"),
    [
        ({"typ": "jwt"}, {}, "MCPA-VER-018"),
        ({"typ": None}, {}, "MCPA-VER-018"),
        ({"jwk": None}, {}, "MCPA-VER-018"),
        ({"jwk": "x"}, {}, "MCPA-VER-018"),
        ({"jku": "https://evil.example/jwks"}, {}, "MCPA-VER-018"),
        ({"x5u": "https://evil.example/cert"}, {}, "MCPA-VER-018"),
        ({"x5c": ["AAAA"]}, {}, "MCPA-VER-018"),
        ({"crit": ["exp"]}, {}, "MCPA-VER-018"),
        ({}, {"jti": None}, "MCPA-VER-018"),
        ({}, {"jti": ""}, "MCPA-VER-018"),
        ({}, {"jti": 5}, "MCPA-VER-018"),
        ({}, {"jti": "x" * 300}, "MCPA-VER-018"),
        ({}, {"htm": None}, "MCPA-VER-019"),
        ({}, {"htm": "get"}, "MCPA-VER-019"),
        ({}, {"htm": "POST"}, "MCPA-VER-019"),
        ({}, {"htu": None}, "MCPA-VER-020"),
        ({}, {"htu": "https://rs.example/other"}, "MCPA-VER-020"),
        ({}, {"htu": "https://evil.example/data"}, "MCPA-VER-020"),
        ({}, {"htu": "http://rs.example/data"}, "MCPA-VER-020"),
        ({}, {"htu": "https://rs.example:8443/data"}, "MCPA-VER-020"),
        ({}, {"htu": ["https://rs.example/data"]}, "MCPA-VER-020"),
        ({}, {"iat": None}, "MCPA-VER-021"),
        ({}, {"iat": "1800000000"}, "MCPA-VER-021"),
        ({}, {"iat": 1_800_000_000.0}, "MCPA-VER-021"),
        ({}, {"iat": True}, "MCPA-VER-021"),
        ({}, {"iat": NOW - 61}, "MCPA-VER-021"),
        ({}, {"iat": NOW + 31}, "MCPA-VER-021"),
        ({}, {"ath": None}, "MCPA-VER-022"),
        ({}, {"ath": ath_for("other")}, "MCPA-VER-022"),
        ({}, {"ath": 1}, "MCPA-VER-022"),
    ],
)
def test_proof_rejections(
    key: Any, header_change: dict[str, Any], claims_change: dict[str, Any], requirement: str
) -> None:
    header, claims = _base(key)
    for source, change in ((header, header_change), (claims, claims_change)):
        for name, value in change.items():
            if value is None:
                source.pop(name, None)
            else:
                source[name] = value
    with pytest.raises(InvalidDPoPProof) as info:
        _verify(_custom(key, header, claims))
    assert info.value.requirement == requirement
    assert info.value.error == "invalid_dpop_proof"


def test_iat_window_edges(key: Any) -> None:
    header, claims = _base(key)
    for iat in (NOW - 60, NOW + 30):
        claims["iat"] = iat
        claims["jti"] = f"j{iat}"
        _verify(_custom(key, header, claims))


def test_private_jwk_in_proof_rejected(key: Any) -> None:
    header, claims = _base(key)
    header["jwk"] = private_jwk(key)
    with pytest.raises(InvalidDPoPProof) as info:
        _verify(_custom(key, header, claims))
    assert info.value.requirement == "MCPA-VER-018"


def test_proof_signed_by_other_key(key: Any) -> None:
    other = generate_private_key("ES256")
    header, claims = _base(key)
    header["jwk"] = public_jwk(other)
    with pytest.raises(InvalidDPoPProof) as info:
        _verify(_custom(key, header, claims))
    assert info.value.requirement == "MCPA-VER-018"


def test_alg_not_allowed(key: Any) -> None:
    with pytest.raises(InvalidDPoPProof) as info:
        _verify(_proof(key), allowed_algs=("RS256",))
    assert info.value.requirement == "MCPA-VER-018"


def test_alg_none_proof_rejected(key: Any) -> None:
    header, claims = _base(key)
    seg = lambda v: b64url_encode(json.dumps(v).encode())  # noqa: E731
    token = f"{seg({**header, 'alg': 'none'})}.{seg(claims)}."
    with pytest.raises(InvalidDPoPProof) as info:
        _verify(token)
    assert info.value.requirement == "MCPA-VER-018"


def test_header_alg_differs_from_key(key: Any) -> None:
    header, claims = _base(key)
    other = "EdDSA" if "EC" in type(key).__name__ else "ES256"
    seg = lambda v: b64url_encode(json.dumps(v).encode())  # noqa: E731
    token = f"{seg({**header, 'alg': other})}.{seg(claims)}.{b64url_encode(bytes(64))}"
    with pytest.raises(InvalidDPoPProof) as info:
        _verify(token)
    assert info.value.requirement == "MCPA-VER-018"


@pytest.mark.parametrize("proof", ["", "a", "a.b.c", "x" * 5000, "..."])
def test_garbage_proofs(proof: str) -> None:
    with pytest.raises(InvalidDPoPProof) as info:
        _verify(proof)
    assert info.value.requirement == "MCPA-VER-018"


def test_oversized_proof_rejected(key: Any) -> None:
    header, claims = _base(key)
    claims["pad"] = "x" * 4000
    with pytest.raises(InvalidDPoPProof) as info:
        _verify(_custom(key, header, claims))
    assert info.value.requirement == "MCPA-VER-018"
    assert info.value.detail == "too_long"


def test_full_cache_fails_closed(key: Any) -> None:
    cache = ReplayCache(max_entries=2)
    _verify(_proof(key, jti="a"), replay_cache=cache)
    _verify(_proof(key, jti="b"), replay_cache=cache)
    with pytest.raises(TemporarilyUnavailable) as info:
        _verify(_proof(key, jti="c"), replay_cache=cache)
    assert info.value.status == 503
    assert info.value.requirement == "MCPA-VER-037"
    # once entries expire there is room again
    later = NOW + 62
    _verify(_proof(key, jti="c", iat=later), replay_cache=cache, now=later)


# ---------------------------------------------------------------------------
# ReplayCache


def test_replay_cache_expiry_and_bound() -> None:
    cache = ReplayCache(max_entries=3)
    assert cache.check_and_store("a", 10, now=0)
    assert not cache.check_and_store("a", 10, now=5)
    assert cache.check_and_store("b", 20, now=5)
    assert cache.check_and_store("c", 20, now=5)
    assert not cache.check_and_store("d", 20, now=5)  # full: refused, nothing evicted
    assert cache.is_full(now=5)
    assert not cache.check_and_store("a", 30, now=6)  # still remembered
    assert cache.check_and_store("a", 30, now=10)  # expired at 10: room again
    assert cache.check_and_store("z", 5, now=10)  # already expired: accepted, not stored
    assert len(cache) == 3
    with pytest.raises(ValueError):
        ReplayCache(0)


def test_replay_cache_thread_safe() -> None:
    cache = ReplayCache(max_entries=100_000)
    wins: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = sum(cache.check_and_store(f"k{i}", 10**12) for i in range(2000))
        with lock:
            wins.append(mine)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(wins) == 2000


@settings(deadline=None, max_examples=100)
@given(st.lists(st.tuples(st.sampled_from("abcdef"), st.integers(0, 50), st.integers(0, 5))))
def test_replay_cache_never_accepts_live_duplicate(ops: list[tuple[str, int, int]]) -> None:
    cache = ReplayCache(max_entries=4)
    live: dict[str, float] = {}
    now = 0
    for key, ttl, step in ops:
        now += step
        live = {k: v for k, v in live.items() if v > now}
        stored = cache.check_and_store(key, now + ttl, now=now)
        if key in live:
            assert not stored
        elif stored and ttl > 0:
            live[key] = now + ttl
        assert len(live) <= 4


# ---------------------------------------------------------------------------
# htu


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://RS.Example/data", "https://rs.example/data"),
        ("HTTPS://rs.example:443/data", "https://rs.example/data"),
        ("http://rs.example:80/data", "http://rs.example/data"),
        ("https://rs.example/data?x=1#f", "https://rs.example/data"),
        ("https://rs.example", "https://rs.example/"),
        ("https://rs.example/%7Euser", "https://rs.example/~user"),
        ("https://rs.example/a%2fb", "https://rs.example/a%2Fb"),
        ("https://rs.example/a/./b/../c", "https://rs.example/a/c"),
        ("https://[::1]:8443/x", "https://[::1]:8443/x"),
    ],
)
def test_htu_normalisation_equal(a: str, b: str) -> None:
    assert normalize_htu(a) == normalize_htu(b) is not None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://rs.example/data", "http://rs.example/data"),
        ("https://rs.example/data", "https://rs.example:8443/data"),
        ("https://rs.example/Data", "https://rs.example/data"),
        ("https://rs.example/data/", "https://rs.example/data"),
        ("https://rs.example/a%2Fb", "https://rs.example/a/b"),
    ],
)
def test_htu_normalisation_differs(a: str, b: str) -> None:
    assert normalize_htu(a) != normalize_htu(b)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://rs.example/",
        "rs.example/data",
        "https:///data",
        "https://user:pw@rs.example/",
        "https://rs.example:99999/",
        "https://rs.example:x/",
        "https://rs.example/da ta",
        "https://rs.éxample/",
        "",
    ],
)
def test_htu_rejects(url: str) -> None:
    assert normalize_htu(url) is None


@pytest.mark.parametrize(
    ("htu", "request_url"),
    [
        ("https://[::1]x/data", "https://[::1]/data"),  # junk after an IP literal
        ("https://[::1]]/data", "https://[::1]/data"),
        ("https://[v1.rs.example]/data", "https://v1.rs.example/data"),  # IPvFuture
        ("\x01https://rs.example/data", "https://rs.example/data"),  # stripped by urlsplit
        ("https://rs.example/data\x00", "https://rs.example/data"),
        ("https://rs.exa\x00mple/data", "https://rs.exa\x00mple/data"),
    ],
)
def test_htu_unparseable_uri_never_matches(key: Any, htu: str, request_url: str) -> None:
    """MCPA-VER-020: a URI that cannot be parsed never matches, not even after parsing
    quirks of ``urlsplit`` drop the offending characters."""
    assert normalize_htu(htu) is None
    header, claims = _base(key)
    claims["htu"] = htu
    with pytest.raises(InvalidDPoPProof) as info:
        _verify(_custom(key, header, claims), url=request_url)
    assert info.value.requirement == "MCPA-VER-020"


@settings(deadline=None, max_examples=300)
@given(st.text(max_size=80))
def test_normalize_htu_total(url: str) -> None:
    result = normalize_htu(url)
    assert result is None or result.startswith(("http://", "https://"))


# ---------------------------------------------------------------------------
# properties: any single change to a valid proof is rejected with a typed error


@settings(deadline=None, max_examples=150)
@given(st.data())
def test_any_proof_mutation_rejected(data: st.DataObject) -> None:
    alg = data.draw(st.sampled_from(["ES256", "EdDSA"]))
    key = _KEYS[alg]
    proof = _proof(key, jti=data.draw(st.text(min_size=1, max_size=8)))
    h, p, s = proof.split(".")
    kind = data.draw(st.sampled_from(["sig_byte", "payload_char", "header_char", "segment"]))
    if kind == "sig_byte":
        sig = bytearray(b64url_decode(s))
        i = data.draw(st.integers(0, len(sig) - 1))
        sig[i] ^= data.draw(st.integers(1, 255))
        mutated = f"{h}.{p}.{b64url_encode(bytes(sig))}"
    elif kind in ("payload_char", "header_char"):
        seg = p if kind == "payload_char" else h
        i = data.draw(st.integers(0, len(seg) - 1))
        c = data.draw(st.sampled_from("AQgw_-09"))
        if seg[i] == c:
            return
        seg2 = seg[:i] + c + seg[i + 1 :]
        mutated = f"{h}.{seg2}.{s}" if kind == "payload_char" else f"{seg2}.{p}.{s}"
    else:
        parts = [h, p, s]
        i = data.draw(st.integers(0, 2))
        parts[i] = data.draw(st.sampled_from(["", "e30", parts[(i + 1) % 3]]))
        mutated = ".".join(parts)
        if mutated == proof:
            return
    with pytest.raises(InvalidDPoPProof) as info:
        _verify(mutated)
    assert info.value.requirement is not None
    assert info.value.requirement.startswith("MCPA-VER-0")


@settings(deadline=None, max_examples=300)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300).map(b64url_encode)))
def test_arbitrary_proof_text_only_typed_errors(text: str) -> None:
    with pytest.raises(OAuthError) as info:
        _verify(text)
    assert isinstance(info.value, InvalidDPoPProof)


_KEYS = {"ES256": generate_private_key("ES256"), "EdDSA": generate_private_key("EdDSA")}


@settings(deadline=None, max_examples=200)
@given(
    st.dictionaries(
        st.sampled_from(["jti", "htm", "htu", "iat", "ath", "exp", "nonce"]),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(NOW - 100, NOW + 100),
            st.floats(allow_nan=False, allow_infinity=False),
            st.text(max_size=10),
            st.sampled_from(["GET", URL, ath_for(TOKEN)]),
            st.lists(st.integers(), max_size=2),
        ),
    ),
    st.dictionaries(
        st.sampled_from(["typ", "kid", "jku", "crit", "b64"]),
        st.one_of(st.text(max_size=10), st.sampled_from(["dpop+jwt"]), st.integers()),
    ),
)
def test_arbitrary_signed_claims_only_typed_errors(
    claims: dict[str, Any], extra_header: dict[str, Any]
) -> None:
    key = _KEYS["ES256"]
    header = {"typ": "dpop+jwt", **extra_header, "jwk": public_jwk(key)}
    proof = _custom(key, header, claims)
    try:
        _verify(proof)
    except InvalidDPoPProof as exc:
        assert exc.requirement in {f"MCPA-VER-0{n}" for n in (18, 19, 20, 21, 22, 24)}


def test_replay_cache_groups_expire_together() -> None:
    cache = ReplayCache(max_entries=1000)
    for i in range(100):
        assert cache.check_and_store(f"k{i}", 100, now=0)
    for i in range(50):
        assert cache.check_and_store(f"m{i}", 200.5, now=1)
    assert not cache.check_and_store("k7", 300, now=99.9)  # one second group, still live
    assert len(cache) == 150
    assert cache.check_and_store("k7", 300, now=100)  # the whole group expired at 100
    assert len(cache) == 51
    assert not cache.check_and_store("m3", 300, now=200)
    assert cache.check_and_store("m3", 300, now=200.5)
    assert len(cache) == 2  # k7 and m3, both until 300
    assert not cache.is_full(now=200.5)
    assert not cache.check_and_store("k7", 400, now=299)
