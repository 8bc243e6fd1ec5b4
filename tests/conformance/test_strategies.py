"""Strategies produce recipes the oracle can judge; valid recipes are judged valid."""

from __future__ import annotations

import contextlib
import time

from hypothesis import HealthCheck, given, settings

from mcp_auth.conformance import oracle, strategies
from mcp_auth.conformance.cases import Case, ProofRecipe, Target, build_act, materialize
from mcp_auth.conformance.suite_issuer import SuiteIssuer

RESOURCE = "http://127.0.0.1:9/mcp"
TARGET = Target(SuiteIssuer(issuer_port=1, canary_port=2), RESOURCE, RESOURCE, "POST", "data:read")
FAST = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


def judge(case: Case) -> oracle.Expectation:
    now = int(time.time())
    wire = materialize(case, TARGET, now)
    ctx = oracle.VerifierContext(
        TARGET.issuer.url, RESOURCE, "data:read", TARGET.issuer.jwks(), TARGET.issuer.status
    )
    return oracle.expect(oracle.Request("POST", RESOURCE, wire.authorization, wire.dpop), ctx, now)


@FAST
@given(strategies.chains())
def test_chains_are_well_formed(chain):
    act = build_act(chain)
    holder = chain[-1][1]  # the outermost hop is the current actor
    assert oracle.chain_problem({"act": act, "client_id": holder}) is None
    assert len(oracle.chain_of(act) or []) == len(chain)


@FAST
@given(strategies.malformed_chains())
def test_malformed_chains_are_malformed(chain):
    act = build_act(chain)
    holder = chain[-1][1]
    assert oracle.chain_problem({"act": act, "client_id": holder}) is not None


@FAST
@given(strategies.valid_tokens("data:read"))
def test_valid_tokens_are_accepted_by_the_oracle(token):
    assert judge(Case(token=token, proof=ProofRecipe())).accepted


@FAST
@given(strategies.mutated_cases("data:read"))
def test_mutated_cases_get_a_definite_answer(case):
    try:
        e = judge(case)
    except oracle.Indeterminate:
        return
    assert e.status in (200, 400, 401, 403, 503)
    assert e.requirement.startswith("MCPA-")


@FAST
@given(strategies.proofs())
def test_proof_recipes(proof):
    e = judge(Case(proof=proof))
    assert e.status in (200, 401)


def test_mutations_cover_many_rules():
    """Run once per area (as the check does), the generator reaches most rules."""
    seen: set[str] = set()
    for area in strategies.AREAS:

        @settings(
            max_examples=150,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        @given(strategies.mutated_cases("data:read", area))
        def collect(case):
            with contextlib.suppress(oracle.Indeterminate):
                seen.add(judge(case).requirement)

        collect()
    expected = {
        f"MCPA-VER-{n:03d}"
        for n in (3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 25, 26, 28)
    }
    assert expected <= seen, sorted(expected - seen)


@FAST
@given(strategies.valid_iat, strategies.valid_exp, strategies.expired_exp, strategies.future_time)
def test_time_buckets_stay_off_the_edges(iat, exp, expired, future):
    """Every bucket is well away from every bound a conformant verifier may use."""
    ctx = oracle.VerifierContext("", "", "", {}, lambda u, i: False)
    m, skew = ctx.margin, ctx.skew_max
    assert iat <= -m and exp > m and exp - iat <= ctx.max_lifetime
    assert expired <= -skew - m and future > skew + m
