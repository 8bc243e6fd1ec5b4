"""Testing the tester: correct miniatures pass everything; each one-defect miniature is
caught by the check that names the defect's requirement."""

from __future__ import annotations

import httpx
import pytest

from tests.conformance.conftest import mini_issuer, mini_verifier, run_issuer, run_verifier

VERIFIER_DEFECTS = {
    # defect: (check that must catch it, requirement ID it names)
    "ignores_aud": ("verifier.wrong_aud", "MCPA-VER-015"),
    "accepts_alg_none": ("verifier.alg_none", "MCPA-VER-008"),
    "skips_htu": ("verifier.dpop_htu", "MCPA-VER-020"),
    "skips_ath": ("verifier.dpop_ath", "MCPA-VER-022"),
    "skips_status": ("verifier.revoked_grant", "MCPA-VER-028"),
    "accepts_expired": ("verifier.time_claims", "MCPA-VER-016"),
    "fetches_jku": ("verifier.jku_x5u_not_fetched", "MCPA-VER-009"),
    "accepts_bearer": ("verifier.bearer_scheme", "MCPA-VER-003"),
    "skips_replay": ("verifier.dpop_replay", "MCPA-VER-024"),
    "unbounded_status_list": ("verifier.status_list_size_limits", "MCPA-VER-043"),
    "refuses_ed25519": ("verifier.ed25519_accepted", "MCPA-VER-001"),
    "accepts_model_hop": ("verifier.chain_malformed", "MCPA-VER-025"),
    "replay_before_key_binding": ("verifier.dpop_wrong_key_not_recorded", "MCPA-VER-023"),
}
ISSUER_DEFECTS = {
    "scope_grows": ("issuer.exchange_scope", "MCPA-XCH-005"),
    "non_audience_exchange": ("issuer.exchange_only_audience", "MCPA-XCH-003"),
    "extends_expiry": ("issuer.exchange_expiry", "MCPA-XCH-006"),
    "ignores_depth": ("issuer.exchange_depth", "MCPA-XCH-007"),
    "ignores_grant_revocation": ("issuer.grant_revocation", "MCPA-REV-004"),
    "grants_cacheable": ("issuer.grants_no_store", "MCPA-GRT-016"),
    "refresh_token_on_exchange": ("issuer.no_refresh_token", "MCPA-ISS-015"),
    "actor_is_grant_client": ("issuer.event_actors", "MCPA-AUD-011"),
    "exchange_invalid_grant": ("issuer.exchange_only_audience", "MCPA-XCH-003"),
    "endpoint_audience": ("issuer.client_auth_audience", "MCPA-CLA-011"),
    "model_hop": ("issuer.issuance", "MCPA-ISS-016"),
    "pending_status_entry": ("issuer.status_entry_at_approval", "MCPA-REV-003"),
    "guessable_list_id": ("issuer.status_list_id", "MCPA-REV-016"),
    "stale_status_list": ("issuer.status_list_fresh", "MCPA-REV-019"),
    "quota_500": ("issuer.grant_quota", "MCPA-GRT-026"),
}


def _outcomes(report):
    return {c.id: c for c in report.checks}


def test_correct_mini_verifier_passes_every_check():
    with mini_verifier() as (mini, port):
        report = run_verifier(mini, port)
    bad = [(c.id, c.reason) for c in report.checks if c.outcome != "pass"]
    assert not bad
    assert report.classes()["Verifier"] == "passed"


def test_correct_mini_issuer_passes_every_check():
    with mini_issuer() as (_, cfg):
        report = run_issuer(cfg)
    bad = [(c.id, c.reason) for c in report.checks if c.outcome != "pass"]
    assert not bad
    assert report.classes()["Issuer"] == "passed"


@pytest.mark.parametrize("defect", sorted(VERIFIER_DEFECTS))
def test_broken_verifier_is_caught(defect):
    check_id, requirement = VERIFIER_DEFECTS[defect]
    with mini_verifier(defect) as (mini, port):
        report = run_verifier(mini, port, only={check_id, "verifier.valid_token_accepted"})
    results = _outcomes(report)
    assert results["verifier.valid_token_accepted"].outcome == "pass"
    caught = results[check_id]
    assert caught.outcome == "fail", caught.reason
    assert requirement in caught.requirements
    assert not report.passed()
    if defect != "fetches_jku":
        # The counterexample carries the decoded token, the request and the response.
        cx = caught.counterexample
        assert cx is not None
        assert {"request", "response", "token_claims", "token_header"} <= set(cx)
        if defect == "refuses_ed25519":  # a refused valid token: no rule decides it
            assert "expected the request to be accepted" in caught.reason
        else:
            assert requirement in caught.reason


@pytest.mark.parametrize("defect", sorted(ISSUER_DEFECTS))
def test_broken_issuer_is_caught(defect):
    check_id, requirement = ISSUER_DEFECTS[defect]
    with mini_issuer(defect) as (_, cfg):
        report = run_issuer(cfg, only={check_id, "issuer.issuance"})
    results = _outcomes(report)
    if check_id != "issuer.issuance":
        assert results["issuer.issuance"].outcome == "pass"
    caught = results[check_id]
    assert caught.outcome == "fail", caught.reason
    assert requirement in caught.requirements
    assert caught.reason


@pytest.mark.parametrize(
    ("defect", "requirement"), [("skips_htu", "MCPA-VER-020"), ("accepts_bearer", "MCPA-VER-003")]
)
def test_generated_mutations_find_and_shrink(defect, requirement):
    """The Hypothesis property finds these defects on its own; the shrunk counterexample
    is decided by the defect's rule (the only rule where miniature and oracle differ)."""
    with mini_verifier(defect) as (mini, port):
        report = run_verifier(mini, port, only={"verifier.generated_mutations"}, profile="thorough")
    result = report.checks[0]
    assert result.outcome == "fail", result.reason
    assert f"[{requirement}:" in result.reason
    assert result.counterexample is not None
    assert {"token_claims", "request", "response", "note"} <= set(result.counterexample)


@pytest.mark.parametrize("defect", ["ignores_grant_revocation", "ignores_depth"])
def test_state_machine_finds_defect(defect):
    with mini_issuer(defect) as (_, cfg):
        report = run_issuer(cfg, only={"issuer.stateful_attenuation"})
    result = report.checks[0]
    assert result.outcome == "fail", result.reason
    assert "MCPA-XCH-007" in result.requirements


def test_correct_mini_issuer_passes_in_existing_mode_with_a_shallow_grant():
    """``existing`` grant mode with a grant whose max_depth (3) is below the issuer's maximum:
    every check that can run passes; only those that must create grants are skipped."""
    with mini_issuer() as (mini, cfg):
        grants = cfg["issuer"]["grants"]
        body = {
            "sub": grants["user"],
            "client_id": cfg["issuer"]["agent"]["client_id"],
            "resources": [t["resource"] for t in cfg["issuer"]["tools"]] + grants["resources"],
            "scopes": grants["scopes"],
            "tools": [t["client_id"] for t in cfg["issuer"]["tools"]],
            "models": grants["models"],
            "max_depth": 3,
        }
        resp = httpx.post(
            mini.url + "/grants",
            json=body,
            headers={"Authorization": f"Bearer {grants['admin_token']}"},
        )
        assert resp.status_code == 201, resp.text
        cfg["issuer"]["grants"] = {
            "mode": "existing",
            "grant_ids": [resp.json()["grant_id"]],
            "user": grants["user"],
            "resources": grants["resources"],
            "scopes": grants["scopes"],
            "models": grants["models"],
        }
        report = run_issuer(cfg)
    bad = [(c.id, c.reason) for c in report.checks if c.outcome not in ("pass", "skip")]
    assert not bad
    skipped = {c.id for c in report.checks if c.outcome == "skip"}
    assert skipped == {
        "issuer.exchange_tool_not_in_grant",
        "issuer.grant_revocation",
        "issuer.grant_admin_create",
        "issuer.status_entries_distinct",  # one grant in the config
        "issuer.grant_quota",  # no quota_probe in the config
        "issuer.token_revocation_expired_audited",
    }
    # Skipped MUST checks: the run supports no Issuer claim (MCPA-CNF-002, issuer log 24).
    assert report.classes()["Issuer"] == "incomplete"
