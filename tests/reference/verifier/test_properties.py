"""Property tests: single mutations are rejected with the right requirement; arbitrary
input never raises anything but the typed errors."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcp_auth.reference.dpop import ReplayCache
from mcp_auth.reference.errors import InvalidDPoPProof, InvalidToken, OAuthError
from mcp_auth.reference.jose import b64url_decode, b64url_encode
from mcp_auth.reference.verifier import StaticStatus, extract_credentials, verify
from mcp_auth.reference.verifier.principal import Principal
from tests.reference.verifier.helpers import NOW, RESOURCE, MiniIssuer, seg

MINI = MiniIssuer()
KEYS = MINI.keyset()
SETTINGS = MINI.settings()
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
TAMPER_REQUIREMENTS = {f"MCPA-VER-0{n:02d}" for n in range(6, 13)}

REQUIRED_CLAIMS = (
    "iss", "sub", "aud", "client_id", "iat", "exp", "jti", "scope", "grant_id", "cnf",
    "status", "act",
)  # fmt: skip
INT_CLAIMS = {"iat", "exp"}
OBJECT_CLAIMS = {"cnf", "status", "act"}

VALUES_OF_TYPE: dict[str, Any] = {
    "str": st.text(max_size=8),
    "int": st.integers(-(2**40), 2**40),
    "float": st.floats(allow_nan=False, allow_infinity=False),
    "bool": st.booleans(),
    "null": st.none(),
    "list": st.lists(st.integers(), max_size=2),
    "dict": st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
}


def _run(token: str, proof: str | None) -> Principal:
    return verify(
        token,
        proof,
        "GET",
        RESOURCE,
        SETTINGS,
        KEYS,
        StaticStatus(),
        NOW,
        ReplayCache(),
        "files:read",
    )


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    return {int: "int", float: "float", str: "str", list: "list", dict: "dict"}[type(value)]


def _expected_for_claim(name: str) -> str:
    del name
    return "MCPA-VER-013"


@settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_resigned_claim_removed_or_retyped(data: st.DataObject) -> None:
    """Each required claim removed or given a wrong type, then validly signed: step 8."""
    name = data.draw(st.sampled_from(REQUIRED_CLAIMS))
    claims = MINI.claims()
    right = "int" if name in INT_CLAIMS else "dict" if name in OBJECT_CLAIMS else "str"
    action = data.draw(st.sampled_from(["remove", *[k for k in VALUES_OF_TYPE if k != right]]))
    if action == "remove":
        del claims[name]
    else:
        value = data.draw(VALUES_OF_TYPE[action])
        if action == "null":
            value = None
        claims[name] = value
        assert _kind(value) != right
    token = MINI.token(claims)
    with pytest.raises(InvalidToken) as info:
        _run(token, MINI.proof(token))
    assert info.value.requirement == _expected_for_claim(name)


HEADER_MUTATIONS: list[tuple[str, Any, str]] = [
    ("typ", None, "MCPA-VER-007"),
    ("typ", "jwt", "MCPA-VER-007"),
    ("typ", "statuslist+jwt", "MCPA-VER-007"),
    ("typ", ["mcpa+jwt"], "MCPA-VER-007"),
    ("kid", None, "MCPA-VER-011"),
    ("kid", "es-2", "MCPA-VER-011"),
    ("kid", 1, "MCPA-VER-011"),
    ("jku", "https://evil.example/jwks", "MCPA-VER-009"),
    ("x5u", "https://evil.example/x5u", "MCPA-VER-009"),
    ("x5c", [], "MCPA-VER-009"),
    ("jwk", {}, "MCPA-VER-009"),
    ("crit", ["x"], "MCPA-VER-010"),
]


@pytest.mark.parametrize(("name", "value", "requirement"), HEADER_MUTATIONS)
def test_resigned_header_mutation(name: str, value: Any, requirement: str) -> None:
    header = MINI.header()
    if value is None:
        header.pop(name, None)
    else:
        header[name] = value
    token = MINI.token(header=header)
    with pytest.raises(InvalidToken) as info:
        _run(token, MINI.proof(token))
    assert info.value.requirement == requirement


@pytest.mark.parametrize(
    ("alg", "requirement"),
    [("HS256", "MCPA-VER-008"), ("none", "MCPA-VER-008"), ("Ed25519", "MCPA-VER-011"),
     ("EdDSA", "MCPA-VER-011"),
     ("ES512", "MCPA-VER-008"), (None, "MCPA-VER-008"), (256, "MCPA-VER-008")],
)  # fmt: skip
def test_alg_header_mutation_without_resigning(alg: Any, requirement: str) -> None:
    token = MINI.token()
    _, payload, signature = token.split(".")
    header = {**MINI.header(), "alg": alg} if alg is not None else MINI.header()
    mutated = f"{seg(header)}.{payload}.{signature}"
    with pytest.raises(InvalidToken) as info:
        _run(mutated, MINI.proof(mutated))
    assert info.value.requirement == requirement


_TOKEN = MINI.token()


@settings(deadline=None, max_examples=300)
@given(st.data())
def test_any_tampering_is_rejected(data: st.DataObject) -> None:
    """Any single edit of a signed token, not re-signed, fails at steps 3–7."""
    parts = _TOKEN.split(".")
    kind = data.draw(
        st.sampled_from(["replace", "delete", "insert", "sig_byte", "swap", "drop", "dup"])
    )
    i = data.draw(st.integers(0, 2))
    if kind == "sig_byte":
        sig = bytearray(b64url_decode(parts[2]))
        pos = data.draw(st.integers(0, len(sig) - 1))
        sig[pos] ^= data.draw(st.integers(1, 255))
        parts[2] = b64url_encode(bytes(sig))
    elif kind == "swap":
        j = (i + data.draw(st.integers(1, 2))) % 3
        parts[i], parts[j] = parts[j], parts[i]
    elif kind == "drop":
        del parts[i]
    elif kind == "dup":
        parts.insert(i, parts[i])
    else:
        segment = parts[i]
        pos = data.draw(st.integers(0, len(segment) - (1 if kind != "insert" else 0)))
        char = data.draw(st.sampled_from(B64 + "=.+/ ?"))
        if kind == "replace":
            if pos == len(segment) or segment[pos] == char:
                return
            segment = segment[:pos] + char + segment[pos + 1 :]
        elif kind == "delete":
            segment = segment[:pos] + segment[pos + 1 :]
        else:
            segment = segment[:pos] + char + segment[pos:]
        parts[i] = segment
    mutated = ".".join(parts)
    if mutated == _TOKEN:
        return
    with pytest.raises(InvalidToken) as info:
        _run(mutated, MINI.proof(mutated))
    assert info.value.requirement in TAMPER_REQUIREMENTS, info.value.requirement


@settings(deadline=None, max_examples=100)
@given(st.data())
def test_any_claim_value_tampering_is_rejected(data: st.DataObject) -> None:
    """Change one claim's value in the payload without re-signing: signature step."""
    claims = MINI.claims()
    name = data.draw(st.sampled_from(sorted(claims)))
    new = data.draw(st.one_of(st.text(max_size=5), st.integers(), st.none()))
    if claims[name] == new:
        return
    claims[name] = new
    header, _, signature = _TOKEN.split(".")
    mutated = f"{header}.{seg(claims)}.{signature}"
    with pytest.raises(InvalidToken) as info:
        _run(mutated, MINI.proof(mutated))
    assert info.value.requirement == "MCPA-VER-012"


@settings(deadline=None, max_examples=300)
@given(
    st.one_of(
        st.text(max_size=200),
        st.lists(st.binary(max_size=60).map(b64url_encode), min_size=1, max_size=4).map(".".join),
        st.tuples(
            st.dictionaries(st.sampled_from(["typ", "alg", "kid", "jku", "crit"]),
                            st.one_of(st.text(max_size=10), st.sampled_from(
                                ["mcpa+jwt", "ES256", "Ed25519", "EdDSA", "es-1", "ed-1"]),
                                      st.integers())),
            st.dictionaries(st.text(max_size=8), st.integers(), max_size=4),
            st.binary(min_size=0, max_size=70),
        ).map(lambda t: f"{seg(t[0])}.{seg(t[1])}.{b64url_encode(t[2])}"),
    ),
    st.one_of(st.none(), st.text(max_size=100)),
)  # fmt: skip
def test_arbitrary_input_only_typed_errors(token: str, proof: str | None) -> None:
    with pytest.raises(OAuthError) as info:
        _run(token, proof)
    assert isinstance(info.value, InvalidToken | InvalidDPoPProof)
    assert info.value.requirement is not None


@settings(deadline=None, max_examples=300)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([b"authorization", b"dpop", b"host", b"x"]),
            st.one_of(
                st.binary(max_size=40),
                st.sampled_from([b"DPoP ", b"Bearer ", b"dpop ", b"Basic "]).flatmap(
                    lambda p: st.binary(max_size=30).map(lambda b: p + b)
                ),
            ),
        ),
        max_size=4,
    )
)
def test_extract_only_typed_errors(headers: list[tuple[bytes, bytes]]) -> None:
    try:
        extract_credentials(headers)
    except OAuthError as exc:
        assert exc.requirement in {"MCPA-VER-003", "MCPA-VER-004"}
        assert exc.status in (400, 401)


@settings(deadline=None, max_examples=100)
@given(
    st.dictionaries(
        st.sampled_from(["sub", "actor_type", "act", "mcpa_model", "x"]),
        st.one_of(
            st.sampled_from(["agent", "model", "tool", "agent-1"]),
            st.integers(),
            st.recursive(
                st.fixed_dictionaries(
                    {"sub": st.sampled_from(["agent-1", "m", "t"]),
                     "actor_type": st.sampled_from(["agent", "model", "tool", "user"]),
                     "mcpa_model": st.sampled_from(["m", 1])}
                ),
                lambda inner: st.fixed_dictionaries(
                    {"sub": st.sampled_from(["agent-1", "m", "t"]),
                     "actor_type": st.sampled_from(["agent", "model", "tool"]),
                     "act": inner}
                ),
                max_leaves=8,
            ),
        ),
    )
)  # fmt: skip
def test_arbitrary_chains_only_chain_errors(act: dict[str, Any]) -> None:
    token = MINI.token(MINI.claims(act=act))
    try:
        principal = _run(token, MINI.proof(token))
    except InvalidToken as exc:
        assert exc.requirement in {"MCPA-VER-025", "MCPA-VER-026"}
    else:
        types = [h.actor_type for h in principal.chain]
        assert types[:1] == ["agent"] and set(types[1:]) <= {"tool"}
        assert len(types) <= 5


def _drive(coro: Any) -> Any:
    """Run a coroutine that never suspends (the Verifier with injected lookups)."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise AssertionError("coroutine suspended")  # pragma: no cover


def _make_verifier() -> Any:
    from mcp_auth.reference.verifier import Verifier

    return Verifier(SETTINGS, keys=KEYS, status=StaticStatus(), clock=lambda: NOW)


_VERIFIER = _make_verifier()


@settings(deadline=None, max_examples=200)
@given(
    st.one_of(st.text(max_size=120), st.just(MINI.token())),
    st.one_of(st.none(), st.text(max_size=60)),
    st.text(max_size=20),
    st.text(max_size=40),
)
def test_verifier_arbitrary_request_only_typed_errors(
    token: str, proof: str | None, method: str, url: str
) -> None:
    with pytest.raises(OAuthError):
        _drive(_VERIFIER.verify(token, proof, method=method, url=url))


def test_max_age_floor_and_cap() -> None:
    import httpx

    from mcp_auth.reference.verifier.providers import max_age_of

    def age(value: str | None) -> int:
        headers = {"cache-control": value} if value is not None else {}
        return max_age_of(httpx.Response(200, headers=headers))

    assert age(None) == 300
    assert age("max-age=120") == 120
    assert age("public, max-age=0") == 30
    assert age("no-store") == 30
    assert age("max-age=999999999") == 86400
