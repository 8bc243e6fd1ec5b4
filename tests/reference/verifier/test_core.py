"""The pure algorithm (``verify``): each step, its error, and the order of the steps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

from mcp_auth.reference.dpop import ReplayCache
from mcp_auth.reference.errors import (
    InsufficientScope,
    InvalidDPoPProof,
    InvalidToken,
    OAuthError,
    TemporarilyUnavailable,
)
from mcp_auth.reference.jose import (
    b64url_decode,
    b64url_encode,
    generate_private_key,
    load_jwks,
    public_jwk,
    sign_compact,
)
from mcp_auth.reference.verifier import STEPS, Principal, StaticStatus, verify
from mcp_auth.reference.verifier.status import status_uri_allowed
from tests.reference.verifier.helpers import (
    ISSUER,
    NOW,
    RESOURCE,
    STATUS_URI,
    MiniIssuer,
    chain_act,
    seg,
)

MINI = MiniIssuer()
KEYS = MINI.keyset()


def run(
    token: str,
    proof: str | None = "auto",
    *,
    method: str = "GET",
    url: str = RESOURCE,
    now: float = NOW,
    status: Any = None,
    required: Any = "files:read",
    cache: ReplayCache | None = None,
    keys: Any = None,
    **settings: Any,
) -> Principal:
    if proof == "auto":
        proof = MINI.proof(token)
    return verify(
        token,
        proof,
        method,
        url,
        MINI.settings(**settings),
        keys or KEYS,
        status or StaticStatus(),
        now,
        cache if cache is not None else ReplayCache(),
        required,
    )


def expect(error: type[OAuthError], requirement: str, fn: Callable[[], object]) -> OAuthError:
    with pytest.raises(OAuthError) as info:
        fn()
    assert isinstance(info.value, error), repr(info.value)
    assert info.value.error == error.error and info.value.status in (error.status, 401)
    assert info.value.requirement == requirement, repr(info.value)
    return info.value


def test_steps_are_in_spec_order() -> None:
    assert [s.number for s in STEPS] == list(range(2, 16))
    assert [s.number for s in STEPS if s.cacheable] == [3, 4, 5, 6, 7, 8, 13]


@pytest.mark.parametrize("kid", ["es-1", "ed-1"])
@pytest.mark.parametrize("depth", [1, 2, 3, 5])
def test_valid_token(kid: str, depth: int) -> None:
    token = MINI.token(MINI.claims(depth), kid=kid)
    principal = run(token)
    assert principal.sub == "user-1"
    assert principal.grant_id == "grant-1"
    assert principal.client_id == MINI.claims(depth)["client_id"]
    assert principal.scopes == {"files:read", "files:write"}
    assert [h.actor_type for h in principal.chain] == ["agent"] + ["tool"] * (depth - 1)
    assert principal.chain[0].sub == "agent-1"
    assert principal.exp == NOW + 200
    assert principal.is_authenticated and principal.display_name == "user-1"
    assert principal.to_json()["chain"][0] == {
        "actor_type": "agent",
        "sub": "agent-1",
        "mcpa_model": "model-x",
    }
    assert principal.chain[0].model == "model-x"


def test_deprecated_eddsa_alias_accepted() -> None:
    """RFC 9864: a token with the deprecated ``alg: EdDSA`` verifies with the issuer's
    Ed25519 key (published as ``Ed25519``), and the reverse (MCPA-TOK-023)."""
    token = sign_compact(MINI.header(kid="ed-1"), MINI.claims(), MINI.keys["ed-1"], "EdDSA")
    assert run(token).sub == "user-1"
    old_jwks = {"keys": [{**k, "alg": "EdDSA"} for k in MINI.jwks()["keys"] if k["kid"] == "ed-1"]}
    token = MINI.token(MINI.claims(), kid="ed-1")
    assert run(token, keys=load_jwks(old_jwks)).sub == "user-1"  # a pre-RFC 9864 JWKS


def test_eddsa_holder_key() -> None:
    mini = MiniIssuer(holder_alg="Ed25519")
    token = mini.token(mini.claims())
    verify(
        token,
        mini.proof(token),
        "GET",
        RESOURCE,
        mini.settings(),
        KEYS,
        StaticStatus(),
        NOW,
        ReplayCache(),
    )


def test_typ_spellings_accepted() -> None:
    for typ in ("mcpa+jwt", "application/mcpa+jwt", "MCPA+JWT", "Application/Mcpa+Jwt"):
        run(MINI.token(header=MINI.header(typ=typ)))


# ---------------------------------------------------------------------------
# one failure per check, with its error class and requirement

TOKEN_FAILURES: list[tuple[str, Callable[[], str], str]] = [
    ("size", lambda: MINI.token(MINI.claims(pad="x" * 9000)), "MCPA-VER-005"),
    ("two segments", lambda: MINI.token().rsplit(".", 1)[0], "MCPA-VER-006"),
    ("four segments", lambda: MINI.token() + ".AAAA", "MCPA-VER-006"),
    ("padding", lambda: MINI.token() + "==", "MCPA-VER-006"),
    ("empty signature", lambda: MINI.token().rsplit(".", 1)[0] + ".", "MCPA-VER-006"),
    (
        "duplicate claim",
        lambda: seg(MINI.header(alg="ES256")) + "." + seg(b'{"sub":"a","sub":"b"}') + ".AAAA",
        "MCPA-VER-006",
    ),
    (
        "payload array",
        lambda: seg(MINI.header(alg="ES256")) + "." + seg([1]) + ".AAAA",
        "MCPA-VER-006",
    ),
    ("typ missing", lambda: MINI.token(header={"kid": "es-1"}), "MCPA-VER-007"),
    ("typ jwt", lambda: MINI.token(header=MINI.header(typ="JWT")), "MCPA-VER-007"),
    ("typ dpop", lambda: MINI.token(header=MINI.header(typ="dpop+jwt")), "MCPA-VER-007"),
    ("typ at+jwt", lambda: MINI.token(header=MINI.header(typ="at+jwt")), "MCPA-VER-007"),
    ("typ number", lambda: MINI.token(header=MINI.header(typ=1)), "MCPA-VER-007"),
    ("jku", lambda: MINI.token(header=MINI.header(jku="https://evil.example/k")), "MCPA-VER-009"),
    ("x5u", lambda: MINI.token(header=MINI.header(x5u="https://evil.example/c")), "MCPA-VER-009"),
    ("x5c", lambda: MINI.token(header=MINI.header(x5c=["AAAA"])), "MCPA-VER-009"),
    ("jwk", lambda: MINI.token(header=MINI.header(jwk=MINI.holder_jwk)), "MCPA-VER-009"),
    ("crit", lambda: MINI.token(header=MINI.header(crit=["exp"], exp=1)), "MCPA-VER-010"),
    ("kid unknown", lambda: MINI.token(header=MINI.header(kid="nope")), "MCPA-VER-011"),
    ("kid missing", lambda: MINI.token(header={"typ": "mcpa+jwt"}), "MCPA-VER-011"),
    ("kid number", lambda: MINI.token(header=MINI.header(kid=1)), "MCPA-VER-011"),
    ("kid of other alg", lambda: MINI.token(header=MINI.header(kid="ed-1")), "MCPA-VER-011"),
]

CLAIM_FAILURES: list[tuple[str, dict[str, Any], str]] = [
    *[(f"{name} missing", {name: None}, "MCPA-VER-013")
      for name in ("iss", "sub", "aud", "client_id", "iat", "exp", "jti", "scope", "grant_id",
                   "cnf", "status", "act")],
    ("aud array", {"aud": [RESOURCE]}, "MCPA-VER-013"),
    ("exp float", {"exp": NOW + 200.0}, "MCPA-VER-013"),
    ("exp bool", {"exp": True}, "MCPA-VER-013"),
    ("exp string", {"exp": str(NOW + 200)}, "MCPA-VER-013"),
    ("iat float", {"iat": NOW - 10.5}, "MCPA-VER-013"),
    ("nbf string", {"nbf": "0"}, "MCPA-VER-013"),
    ("cnf no jkt", {"cnf": {}}, "MCPA-VER-013"),
    ("cnf jkt number", {"cnf": {"jkt": 1}}, "MCPA-VER-013"),
    ("status idx negative", {"status": {"mcpa_grant_list": {"idx": -1, "uri": STATUS_URI}}},
     "MCPA-VER-013"),
    ("status idx string", {"status": {"mcpa_grant_list": {"idx": "1", "uri": STATUS_URI}}},
     "MCPA-VER-013"),
    ("status no uri", {"status": {"mcpa_grant_list": {"idx": 1}}}, "MCPA-VER-013"),
    # draft-00's member: another status mechanism, ignored, so mcpa_grant_list is missing
    ("status only status_list", {"status": {"status_list": {"idx": 1, "uri": STATUS_URI}}},
     "MCPA-VER-013"),
    ("status flat", {"status": {"idx": 1, "uri": STATUS_URI}}, "MCPA-VER-013"),
    ("act string", {"act": "agent-1"}, "MCPA-VER-013"),
    ("scope list", {"scope": ["files:read"]}, "MCPA-VER-013"),
    ("iss other", {"iss": "https://evil.example"}, "MCPA-VER-014"),
    ("iss trailing slash", {"iss": ISSUER + "/"}, "MCPA-VER-014"),
    ("iss case", {"iss": ISSUER.upper()}, "MCPA-VER-014"),
    ("aud other", {"aud": "https://rs.example/other"}, "MCPA-VER-015"),
    ("aud trailing slash", {"aud": RESOURCE + "/"}, "MCPA-VER-015"),
    ("expired", {"exp": NOW - 30, "iat": NOW - 100}, "MCPA-VER-016"),
    ("iat future", {"iat": NOW + 31, "exp": NOW + 100}, "MCPA-VER-016"),
    ("nbf future", {"nbf": NOW + 31}, "MCPA-VER-016"),
    ("lifetime", {"iat": NOW - 10, "exp": NOW + 291}, "MCPA-VER-017"),
    ("cnf other key", {"cnf": {"jkt": "A" * 43}}, "MCPA-VER-023"),
    ("cnf jkt not ascii", {"cnf": {"jkt": "\u00e9" * 43}}, "MCPA-VER-023"),
    ("hop not object", {"act": {"actor_type": "agent", "sub": "agent-1", "act": "x"}},
     "MCPA-VER-025"),
    ("hop sub missing", {"act": {"actor_type": "tool", "act": {"actor_type": "agent",
                                                               "sub": "agent-1"}}},
     "MCPA-VER-025"),
    ("hop sub number", {"act": {"actor_type": "agent", "sub": 1}}, "MCPA-VER-025"),
    ("actor_type unknown", {"act": {"actor_type": "user", "sub": "agent-1"}},
     "MCPA-VER-025"),
    # draft-00's model hop: no longer an actor type (the model is the hop's mcpa_model)
    ("draft-00 model hop", {"act": {"actor_type": "model", "sub": "m",
                                    "act": {"actor_type": "agent", "sub": "agent-1"}}},
     "MCPA-VER-025"),
    ("tool innermost", {"act": {"actor_type": "tool", "sub": "agent-1"}}, "MCPA-VER-025"),
    ("two agents", {"act": {"actor_type": "agent", "sub": "agent-1", "act": chain_act(1)}},
     "MCPA-VER-025"),
    ("act null on the innermost hop", {"act": {"actor_type": "agent", "sub": "agent-1",
                                               "act": None}}, "MCPA-VER-025"),
    ("mcpa_model number", {"act": {"actor_type": "agent", "sub": "agent-1", "mcpa_model": 1}},
     "MCPA-VER-025"),
    ("holder is an inner hop", {"act": chain_act(2), "client_id": "agent-1"},
     "MCPA-VER-025"),
    ("client_id mismatch", {"client_id": "someone-else"}, "MCPA-VER-025"),
    ("too deep", {"act": chain_act(6), "client_id": "tool-5"}, "MCPA-VER-026"),
    ("status uri foreign", {"status": {"mcpa_grant_list": {"idx": 1,
                                                       "uri": "https://evil.example/s"}}},
     "MCPA-VER-028"),
    ("status uri //", {"status": {"mcpa_grant_list": {"idx": 1,
                                                  "uri": f"{ISSUER}//status/1"}}},
     "MCPA-VER-028"),
    ("status uri empty segment", {"status": {"mcpa_grant_list": {"idx": 1,
                                                             "uri": f"{ISSUER}/status//1"}}},
     "MCPA-VER-028"),
    ("innermost act null", {"act": {"actor_type": "model", "sub": "model-x", "act": {
        "actor_type": "agent", "sub": "agent-1", "act": None}}}, "MCPA-VER-025"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("make", "requirement"),
    [(m, r) for _, m, r in TOKEN_FAILURES],
    ids=[n for n, _, _ in TOKEN_FAILURES],
)
def test_token_failures(make: Callable[[], str], requirement: str) -> None:
    token = make()
    err = expect(InvalidToken, requirement, lambda: run(token))
    assert err.status == 401 and err.error == "invalid_token"


@pytest.mark.parametrize(
    ("overrides", "requirement"),
    [(o, r) for _, o, r in CLAIM_FAILURES],
    ids=[n for n, _, _ in CLAIM_FAILURES],
)
def test_claim_failures(overrides: dict[str, Any], requirement: str) -> None:
    claims = MINI.claims()
    for name, value in overrides.items():
        if value is None:
            claims.pop(name)
        else:
            claims[name] = value
    token = MINI.token(claims)
    err = expect(InvalidToken, requirement, lambda: run(token))
    assert err.status == 401


@pytest.mark.parametrize("alg", ["none", "None", "HS256", "RS256", "ES384", "ed25519", "es256"])
def test_alg_not_allowed(alg: str) -> None:
    token = f"{seg(MINI.header(alg=alg))}.{seg(MINI.claims())}.{b64url_encode(bytes(64))}"
    expect(InvalidToken, "MCPA-VER-008", lambda: run(token))


def test_alg_none_unsigned_token() -> None:
    """CVE-2015-9235 family: ``alg: none`` with an empty signature."""
    token = f"{seg(MINI.header(alg='none'))}.{seg(MINI.claims())}."
    expect(InvalidToken, "MCPA-VER-006", lambda: run(token))  # empty signature: step 3
    token = f"{seg(MINI.header(alg='none'))}.{seg(MINI.claims())}.AA"
    expect(InvalidToken, "MCPA-VER-008", lambda: run(token))


def test_cve_2022_29217_hmac_with_issuer_public_key() -> None:
    """HS256 keyed with the issuer's public JWK / coordinates: refused at the allow-list."""
    jwk = MINI.jwks()["keys"][0]
    signing_input = f"{seg(MINI.header(alg='HS256'))}.{seg(MINI.claims())}"
    for secret in (repr(jwk).encode(), jwk["x"].encode(), b64url_decode(jwk["x"])):
        mac = crypto_hmac.HMAC(secret, hashes.SHA256())
        mac.update(signing_input.encode())
        token = f"{signing_input}.{b64url_encode(mac.finalize())}"
        expect(InvalidToken, "MCPA-VER-008", lambda t=token: run(t))  # type: ignore[misc]


def test_cve_2022_21449_psychic_signature_token() -> None:
    signing_input = f"{seg(MINI.header(alg='ES256'))}.{seg(MINI.claims())}"
    token = f"{signing_input}.{b64url_encode(bytes(64))}"
    expect(InvalidToken, "MCPA-VER-012", lambda: run(token))


def test_cve_2018_0114_embedded_jwk_not_trusted() -> None:
    """node-jose CVE-2018-0114: a token signed by a key it embeds in its header."""
    attacker = generate_private_key("ES256")
    from mcp_auth.reference.jose import sign_compact

    token = sign_compact(MINI.header(jwk=public_jwk(attacker)), MINI.claims(), attacker, "ES256")
    expect(InvalidToken, "MCPA-VER-009", lambda: run(token))
    token = sign_compact(MINI.header(), MINI.claims(), attacker, "ES256")  # no jwk: wrong key
    expect(InvalidToken, "MCPA-VER-012", lambda: run(token))


def test_jku_x5u_ssrf_never_fetched() -> None:
    """jku/x5u header SSRF: refused in step 5, before any key lookup (no lookup object)."""

    class NoKeys:
        def select(self, kid: object, alg: str) -> Any:
            raise AssertionError("key lookup must not happen")

    for name in ("jku", "x5u"):
        token = MINI.token(header=MINI.header(**{name: "http://169.254.169.254/latest"}))
        with pytest.raises(InvalidToken) as info:
            verify(token, None, "GET", RESOURCE, MINI.settings(), NoKeys(), StaticStatus(),
                   NOW, ReplayCache())  # fmt: skip
        assert info.value.requirement == "MCPA-VER-009"


def test_signature_of_other_token() -> None:
    a, b = MINI.token(), MINI.token(MINI.claims(sub="admin"))
    forged = b.rsplit(".", 1)[0] + "." + a.rsplit(".", 1)[1]
    expect(InvalidToken, "MCPA-VER-012", lambda: run(forged))


def test_duplicate_kid_in_jwks_is_ambiguous() -> None:
    from mcp_auth.reference.jose import load_jwks

    jwks = MINI.jwks()
    jwks["keys"].append({**public_jwk(generate_private_key("ES256"), "es-1", "ES256")})
    token = MINI.token()
    with pytest.raises(InvalidToken) as info:
        verify(token, MINI.proof(token), "GET", RESOURCE, MINI.settings(), load_jwks(jwks),
               StaticStatus(), NOW, ReplayCache())  # fmt: skip
    assert info.value.requirement == "MCPA-VER-011"


# ---------------------------------------------------------------------------
# time edges (skew 30)


@pytest.mark.parametrize(
    ("claims", "ok"),
    [
        ({"exp": NOW - 29, "iat": NOW - 100}, True),
        ({"exp": NOW - 30, "iat": NOW - 100}, False),
        ({"iat": NOW + 30, "exp": NOW + 100}, True),
        ({"nbf": NOW + 30}, True),
        ({"iat": NOW - 10, "exp": NOW + 290}, True),
    ],
)
def test_time_edges(claims: dict[str, Any], ok: bool) -> None:
    token = MINI.token(MINI.claims(**claims))
    if ok:
        run(token)
    else:
        expect(InvalidToken, "MCPA-VER-016", lambda: run(token))


def test_issuer_limits_lower_lifetime_and_depth() -> None:
    token = MINI.token(MINI.claims(3, iat=NOW - 10, exp=NOW + 100))
    expect(InvalidToken, "MCPA-VER-017", lambda: run(token, max_token_lifetime=60))
    expect(InvalidToken, "MCPA-VER-026", lambda: run(token, max_chain_depth=2))


# ---------------------------------------------------------------------------
# step 12


def test_proof_missing() -> None:
    err = expect(InvalidDPoPProof, "MCPA-VER-018", lambda: run(MINI.token(), None))
    assert err.status == 401


@pytest.mark.parametrize(
    ("kw", "requirement"),
    [
        ({"method": "POST"}, "MCPA-VER-019"),
        ({"url": "https://rs.example/other"}, "MCPA-VER-020"),
        ({"iat": NOW - 61}, "MCPA-VER-021"),
        ({"iat": NOW + 31}, "MCPA-VER-021"),
    ],
)
def test_proof_failures(kw: dict[str, Any], requirement: str) -> None:
    token = MINI.token()
    proof = MINI.proof(token, **kw)
    err = expect(InvalidDPoPProof, requirement, lambda: run(token, proof))
    assert err.status == 401 and err.error == "invalid_dpop_proof"


def test_proof_for_other_token() -> None:
    token = MINI.token()
    proof = MINI.proof(MINI.token(MINI.claims(jti="other")))
    expect(InvalidDPoPProof, "MCPA-VER-022", lambda: run(token, proof))


def test_proof_without_ath() -> None:
    token = MINI.token()
    expect(InvalidDPoPProof, "MCPA-VER-022", lambda: run(token, MINI.proof(None)))


def test_proof_replay() -> None:
    token = MINI.token()
    proof = MINI.proof(token)
    cache = ReplayCache()
    run(token, proof, cache=cache)
    expect(InvalidDPoPProof, "MCPA-VER-024", lambda: run(token, proof, cache=cache))


def test_stolen_token_with_own_proof_key() -> None:
    token = MINI.token()
    thief = generate_private_key("ES256")
    proof = MINI.proof(token, key=thief)
    err = expect(InvalidToken, "MCPA-VER-023", lambda: run(token, proof))
    assert err.error == "invalid_token"


def test_wrong_key_proof_never_occupies_the_replay_cache() -> None:
    """The cnf.jkt comparison (MCPA-VER-023) comes before the replay check (MCPA-VER-024):
    a proof by another key is invalid_token every time it is sent and records nothing, and
    the holder's proof with the same jti is then accepted (ambiguity log A14)."""
    token = MINI.token()
    thief = generate_private_key("ES256")
    cache = ReplayCache()
    stolen = MINI.proof(token, key=thief, jti="jti-x")
    for _ in range(2):
        expect(InvalidToken, "MCPA-VER-023", lambda: run(token, stolen, cache=cache))
    assert len(cache) == 0
    run(token, MINI.proof(token, jti="jti-x"), cache=cache)
    expect(InvalidDPoPProof, "MCPA-VER-024",
           lambda: run(token, MINI.proof(token, jti="jti-x"), cache=cache))  # fmt: skip


def test_htu_normalised_match() -> None:
    token = MINI.token()
    run(token, MINI.proof(token, url="HTTPS://RS.example:443/data?x=1"))
    run(token, MINI.proof(token), url="https://rs.example/data?q=2#f")


# ---------------------------------------------------------------------------
# step 14 and 15


def test_insufficient_scope() -> None:
    err = expect(InsufficientScope, "MCPA-VER-027", lambda: run(MINI.token(), required="admin"))
    assert err.status == 403 and err.error == "insufficient_scope"
    run(MINI.token(), required={"files:read", "files:write"})
    run(MINI.token(), required=None)  # settings default: nothing required


def test_scope_is_case_sensitive() -> None:
    expect(InsufficientScope, "MCPA-VER-027", lambda: run(MINI.token(), required="FILES:READ"))


def test_revoked_grant() -> None:
    status = StaticStatus({STATUS_URI: {7}})
    err = expect(InvalidToken, "MCPA-VER-028", lambda: run(MINI.token(), status=status))
    assert err.status == 401


def test_status_unavailable_fails_closed() -> None:
    status = StaticStatus(unavailable={STATUS_URI})
    err = expect(TemporarilyUnavailable, "MCPA-VER-029", lambda: run(MINI.token(), status=status))
    assert err.status == 503


def test_status_index_outside_list() -> None:
    token = MINI.token(MINI.claims(status={"mcpa_grant_list": {"idx": 1 << 17, "uri": STATUS_URI}}))
    expect(InvalidToken, "MCPA-VER-028", lambda: run(token))


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:84001/status/1",
        "http://127.0.0.1:8400.evil.example/status/1",
        "http://127.0.0.1:8400@evil.example/status/1",
        "http://127.0.0.1:8400",
        "http://127.0.0.1:8400/status/../grants",
        "http://127.0.0.1:8400/status/%2e%2E/grants",
        "http://127.0.0.1:8400/status/1?x=1",
        "http://127.0.0.1:8400/status/1#f",
        "http://127.0.0.1:8400/status/1 x",
        "http://127.0.0.1:8400/status\\1",
    ],
)
def test_status_uri_outside_issuer_refused(uri: str) -> None:
    assert not status_uri_allowed(uri, "http://127.0.0.1:8400")


def test_status_uri_allowed() -> None:
    assert status_uri_allowed("http://127.0.0.1:8400/status/1", "http://127.0.0.1:8400")
    assert status_uri_allowed("https://i.example/t/status/1", "https://i.example/t/")
    # draft-01: many lists with random base64url ids (MCPA-REV-016), any id under the issuer.
    for list_id in ("Yv3hN1b0xqZ8kT2sW6pLdA", "a-b_c-d_e-f_g-h_i-j_kl", "1"):
        assert status_uri_allowed(
            f"http://127.0.0.1:8400/status/{list_id}", "http://127.0.0.1:8400"
        )


# ---------------------------------------------------------------------------
# order: a token failing two checks fails for the earlier one (MCPA-VER-001)


@pytest.mark.parametrize(
    ("claims", "header", "proof", "requirement"),
    [
        ({"iss": "x", "aud": "y"}, {}, "auto", "MCPA-VER-014"),
        ({"aud": "y", "exp": 1, "iat": 0}, {}, "auto", "MCPA-VER-015"),
        ({"exp": 1, "iat": 0}, {}, None, "MCPA-VER-016"),
        ({"act": "x", "iss": "y"}, {}, "auto", "MCPA-VER-013"),
        ({"iss": "y"}, {"typ": "JWT", "alg": "HS256"}, "auto", "MCPA-VER-007"),
        ({}, {"alg": "HS256", "jku": "x", "crit": ["b"]}, "auto", "MCPA-VER-008"),
        ({}, {"jku": "x", "crit": ["b"]}, "auto", "MCPA-VER-009"),
        ({"client_id": "x"}, {}, None, "MCPA-VER-018"),
        ({"cnf": {"jkt": "A" * 43}, "act": {}}, {}, "auto", "MCPA-VER-023"),
        ({"scope": "none"}, {}, "auto", "MCPA-VER-027"),
    ],
)
def test_first_failure_wins(
    claims: dict[str, Any], header: dict[str, Any], proof: str | None, requirement: str
) -> None:
    hdr = MINI.header(**{k: v for k, v in header.items() if k != "alg"})
    body = MINI.claims(**claims)
    if "alg" in header:
        token = f"{seg({**hdr, 'alg': header['alg']})}.{seg(body)}.{b64url_encode(bytes(64))}"
    else:
        token = MINI.token(body, hdr)
    status = StaticStatus({STATUS_URI: {7}})
    with pytest.raises(OAuthError) as info:
        run(token, proof, status=status)
    assert info.value.requirement == requirement


def test_depth_checked_before_shape_of_the_extra_hop() -> None:
    """The walk stops at hop max_depth + 1 whatever it holds (spec step 13)."""
    act = chain_act(5)
    inner = act
    while "act" in inner["act"]:
        inner = inner["act"]
    inner["act"]["act"] = "not a hop"  # hop 6 is malformed
    token = MINI.token(MINI.claims(act=act, client_id="tool-4"))
    expect(InvalidToken, "MCPA-VER-026", lambda: run(token))
