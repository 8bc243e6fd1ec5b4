"""The oracle: each rule of the verification algorithm, its order, and its edges."""

from __future__ import annotations

import time

import pytest

from mcp_auth.conformance import jose, oracle
from mcp_auth.conformance.cases import Case, Op, ProofRecipe, Target, TokenRecipe, materialize
from mcp_auth.conformance.suite_issuer import SuiteIssuer

RESOURCE = "http://127.0.0.1:9/mcp"


@pytest.fixture(scope="module")
def target():
    # Not started: the oracle needs only the issuer's keys and status truth.
    return Target(
        SuiteIssuer(issuer_port=1, canary_port=2), RESOURCE, RESOURCE, "POST", "data:read"
    )


def judge(target, case, now=None):
    now = int(time.time()) if now is None else now
    wire = materialize(case, target, now)
    ctx = oracle.VerifierContext(
        target.issuer.url,
        target.resource,
        target.required_scope,
        target.issuer.jwks(),
        target.issuer.status,
    )
    return oracle.expect(oracle.Request("POST", RESOURCE, wire.authorization, wire.dpop), ctx, now)


def tok(*ops, **kw):
    return Case(token=TokenRecipe(ops=ops, **kw))


H = lambda p, v: Op("set", "header", p, v)  # noqa: E731
C = lambda p, v: Op("set", "claims", p, v)  # noqa: E731


def test_valid_token_is_accepted(target):
    assert judge(target, Case()).accepted
    assert judge(target, tok(alg="Ed25519")).accepted
    assert judge(target, tok(alg="EdDSA")).accepted  # the deprecated alias (RFC 9864)


@pytest.mark.parametrize(
    ("case", "requirement", "status", "error"),
    [
        (Case(scheme="Bearer"), "MCPA-VER-003", 401, "invalid_token"),
        (tok(signature="oversize"), "MCPA-VER-005", 401, "invalid_token"),
        (tok(signature="drop-segment"), "MCPA-VER-006", 401, "invalid_token"),
        (tok(signature="dup-claim"), "MCPA-VER-006", 401, "invalid_token"),
        (tok(signature="bad-b64"), "MCPA-VER-006", 401, "invalid_token"),
        (tok(H("typ", "JWT")), "MCPA-VER-007", 401, "invalid_token"),
        (tok(H("alg", "none"), signature="none"), "MCPA-VER-008", 401, "invalid_token"),
        (tok(H("alg", "HS256"), signature="hmac-public"), "MCPA-VER-008", 401, "invalid_token"),
        (tok(H("jku", "$canary_jwks")), "MCPA-VER-009", 401, "invalid_token"),
        (tok(H("crit", ["exp"])), "MCPA-VER-010", 401, "invalid_token"),
        (tok(H("kid", "../../x")), "MCPA-VER-011", 401, "invalid_token"),
        (tok(signature="flip:9"), "MCPA-VER-012", 401, "invalid_token"),
        (tok(signature="zero"), "MCPA-VER-012", 401, "invalid_token"),
        (tok(signature="der"), "MCPA-VER-012", 401, "invalid_token"),
        (tok(Op("del", "claims", "jti")), "MCPA-VER-013", 401, "invalid_token"),
        (tok(C("iat", True)), "MCPA-VER-013", 401, "invalid_token"),
        (tok(C("iss", "https://evil.example")), "MCPA-VER-014", 401, "invalid_token"),
        (tok(C("aud", [RESOURCE])), "MCPA-VER-013", 401, "invalid_token"),
        (tok(C("aud", "https://other.example/")), "MCPA-VER-015", 401, "invalid_token"),
        (
            tok(Op("time", "claims", "exp", -600), Op("time", "claims", "iat", -800)),
            "MCPA-VER-016",
            401,
            "invalid_token",
        ),
        (tok(Op("time", "claims", "exp", 3600)), "MCPA-VER-017", 401, "invalid_token"),
        (Case(proof=ProofRecipe(present=False)), "MCPA-VER-018", 401, "invalid_dpop_proof"),
        (Case(proof=ProofRecipe(htm="GET")), "MCPA-VER-019", 401, "invalid_dpop_proof"),
        (
            Case(proof=ProofRecipe(htu="http://127.0.0.1:9/other")),
            "MCPA-VER-020",
            401,
            "invalid_dpop_proof",
        ),
        (Case(proof=ProofRecipe(iat=-600)), "MCPA-VER-021", 401, "invalid_dpop_proof"),
        (Case(proof=ProofRecipe(ath="wrong")), "MCPA-VER-022", 401, "invalid_dpop_proof"),
        (Case(proof=ProofRecipe(key="other")), "MCPA-VER-023", 401, "invalid_token"),
        (tok(chain=(("model", "m"), ("agent", "a"))), "MCPA-VER-025", 401, "invalid_token"),
        (tok(chain=(("agent", "a"), ("model", "m"))), "MCPA-VER-025", 401, "invalid_token"),
        (tok(C("act.act.act", None)), "MCPA-VER-025", 401, "invalid_token"),
        (
            tok(chain=(("agent", "a", "m"), *[("tool", "t")] * 5)),
            "MCPA-VER-026",
            401,
            "invalid_token",
        ),
        (tok(scope="other"), "MCPA-VER-027", 403, "insufficient_scope"),
        (tok(status_idx=-1), "MCPA-VER-028", 401, "invalid_token"),
        (
            tok(C("status.mcpa_grant_list.uri", "$canary_status")),
            "MCPA-VER-028",
            401,
            "invalid_token",
        ),
        (
            tok(C("status.mcpa_grant_list.uri", "$issuer_status_unavailable")),
            "MCPA-VER-029",
            503,
            "temporarily_unavailable",
        ),
    ],
)
def test_each_rule(target, case, requirement, status, error):
    e = judge(target, case)
    assert (e.requirement, e.status, e.error) == (requirement, status, error), e.reason


def test_no_credentials_is_a_bare_challenge(target):
    ctx = oracle.VerifierContext(target.issuer.url, RESOURCE, "data:read", {}, lambda u, i: False)
    e = oracle.expect(oracle.Request("POST", RESOURCE), ctx, int(time.time()))
    assert (e.status, e.error, e.requirement) == (401, None, "MCPA-VER-002")


def test_repeated_authorization_is_invalid_request(target):
    wire = materialize(Case(), target)
    ctx = oracle.VerifierContext(
        target.issuer.url, RESOURCE, "data:read", target.issuer.jwks(), target.issuer.status
    )
    e = oracle.expect(
        oracle.Request("POST", RESOURCE, wire.authorization * 2, wire.dpop), ctx, int(time.time())
    )
    assert (e.status, e.error) == (400, "invalid_request")


def test_first_failure_wins(target):
    # Wrong typ (step 4) and a bad signature (step 7): typ decides.
    assert judge(target, tok(H("typ", "JWT"), signature="flip:1")).requirement == "MCPA-VER-007"
    # Bad signature (step 7) and wrong aud (step 10): the signature decides.
    e = judge(target, tok(C("aud", "https://x.example/"), signature="flip:1"))
    assert e.requirement == "MCPA-VER-012"
    # A token failure before step 12 wins over a missing proof.
    e = judge(
        target, Case(token=TokenRecipe(ops=(C("iss", "x"),)), proof=ProofRecipe(present=False))
    )
    assert e.requirement == "MCPA-VER-014"
    # The proof (step 12) comes before the chain (step 13) and scope (step 14).
    e = judge(
        target,
        Case(
            token=TokenRecipe(scope="other", chain=(("agent", "a"),)), proof=ProofRecipe(htm="GET")
        ),
    )
    assert e.requirement == "MCPA-VER-019"


@pytest.mark.parametrize(
    "ops",
    [
        (Op("time", "claims", "exp", 5),),  # exp just ahead: inside any verifier's skew band
        (Op("time", "claims", "exp", -30),),  # just expired: accepted with 60 s skew
        (Op("time", "claims", "iat", 0),),
        (Op("time", "claims", "nbf", 20),),
    ],
)
def test_edges_are_indeterminate(target, ops):
    with pytest.raises(oracle.Indeterminate):
        judge(target, tok(*ops))


def test_proof_iat_edge_is_indeterminate(target):
    with pytest.raises(oracle.Indeterminate):
        judge(target, Case(proof=ProofRecipe(iat=-55)))


def test_replay_is_detected_after_acceptance(target):
    now = int(time.time())
    wire = materialize(Case(), target, now)
    ctx = oracle.VerifierContext(
        target.issuer.url, RESOURCE, "data:read", target.issuer.jwks(), target.issuer.status
    )
    req = oracle.Request("POST", RESOURCE, wire.authorization, wire.dpop)
    assert oracle.expect(req, ctx, now).accepted
    assert oracle.expect(req, ctx, now).requirement == "MCPA-VER-024"


def test_htu_normalisation():
    assert oracle.normalise_url("HTTP://Example.COM:80/a?x=1#f") == "http://example.com/a"
    assert oracle.normalise_url("https://e.example:8443") == "https://e.example:8443/"


def test_chain_grammar():
    ok = {
        "client_id": "t",
        "act": {
            "actor_type": "tool",
            "sub": "t",
            "mcpa_model": "m2",
            "act": {"actor_type": "agent", "sub": "a", "mcpa_model": "m"},
        },
    }
    assert oracle.chain_problem(ok) is None
    assert oracle.chain_problem({**ok, "client_id": "a"}) is not None  # holder = outermost
    assert (
        oracle.chain_problem({"client_id": "a", "act": {"actor_type": "agent", "sub": "a"}}) is None
    )
    draft00 = {"actor_type": "model", "sub": "m", "act": {"actor_type": "agent", "sub": "a"}}
    assert oracle.chain_problem({"client_id": "a", "act": draft00}) is not None
    null_act = {"actor_type": "agent", "sub": "a", "act": None}
    assert oracle.chain_problem({"client_id": "a", "act": null_act}) is not None
    deep: dict = {"actor_type": "agent", "sub": "a"}
    for _ in range(500):
        deep = {"actor_type": "tool", "sub": "t", "act": deep}
    assert oracle.chain_problem({"client_id": "t", "act": deep}) is not None  # no recursion


def test_expectation_alternatives():
    e = oracle.Expectation(
        400, "invalid_request", "MCPA-VER-004", "x", alternatives=((401, "invalid_dpop_proof"),)
    )
    assert e.allows(400, "invalid_request")
    assert e.allows(401, "invalid_dpop_proof")
    assert not e.allows(401, "invalid_token")


def test_oracle_independent_signature_checks():
    key = jose.Key.generate("ES256")
    token = jose.sign_compact({"alg": "ES256"}, {"a": 1}, key)
    _, _, si, sig = jose.parse_compact(token)
    assert jose.verify_signature(key.public_jwk(), "ES256", si, sig)
    assert not jose.verify_signature(key.public_jwk(), "EdDSA", si, sig)
    assert not jose.verify_signature(key.public_jwk(), "ES256", si, bytes(64))


def test_status_uri_rules_of_the_decided_text():
    """MCPA-VER-028 as decided for draft-01 (ambiguity log A18-A21)."""
    iss = "http://127.0.0.1:8499"
    assert oracle.status_uri_allowed(f"{iss}/status/1", iss)
    assert oracle.status_uri_allowed(f"{iss}/status/1", iss + "/")
    for bad in (
        f"{iss}//status/1",
        f"{iss}/status//1",
        f"{iss}/status/%2E%2e/1",
        f"{iss}/status/.%2e/1",
        f"{iss}/status/a b",
        f"{iss}/status/1?x=1",
        f"{iss}/status/1#f",
        f"{iss}/status/" + "a" * 2048,
        "http://127.0.0.1:84991/status/1",
    ):
        assert not oracle.status_uri_allowed(bad, iss), bad
