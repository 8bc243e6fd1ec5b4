"""Report writers: schema-valid JSON, parseable JUnit, escaped standalone HTML, badges."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from mcp_auth import schemas
from mcp_auth.conformance import report as report_mod
from mcp_auth.conformance.results import CheckResult, Report

EVIL = '<script>alert("x")</script>&\u0000\ud7ff'


def sample() -> Report:
    r = Report(
        "draft-00",
        "0.1.0",
        "quick",
        ["issuer", "verifier"],
        {"issuer": "http://127.0.0.1:8400", "verifier": "http://127.0.0.1:8402/data"},
        7,
        started_at="2026-11-26T10:00:00.000Z",
        finished_at="2026-11-26T10:00:05.000Z",
    )
    r.checks = [
        CheckResult(
            "verifier.alg_none",
            "alg none",
            "verifier",
            ["MCPA-VER-008"],
            "MUST",
            outcome="pass",
            duration_ms=3,
        ),
        CheckResult(
            "verifier.wrong_aud",
            "aud " + EVIL,
            "verifier",
            ["MCPA-VER-015"],
            "MUST",
            outcome="fail",
            reason="accepted " + EVIL,
            duration_ms=4,
            counterexample={
                "token_header": {"alg": "ES256", "x": EVIL},
                "token_claims": {"aud": EVIL},
                "request": {
                    "method": "POST",
                    "url": "http://127.0.0.1:8402/data",
                    "headers": {"authorization": "DPoP " + EVIL},
                },
                "response": {"status": 200, "headers": {}, "body": {"ok": EVIL}},
                "note": EVIL,
            },
        ),
        CheckResult(
            "verifier.eddsa_accepted",
            "EdDSA",
            "verifier",
            ["MCPA-TOK-002"],
            "SHOULD",
            outcome="warn",
            reason="refused",
            duration_ms=1,
        ),
        CheckResult(
            "issuer.metadata",
            "metadata",
            "issuer",
            ["MCPA-DSC-001"],
            "MUST",
            outcome="skip",
            reason="no issuer",
        ),
        CheckResult(
            "issuer.jwks",
            "jwks",
            "issuer",
            ["MCPA-DSC-003"],
            "MUST",
            outcome="xfail",
            reason="expected failure (known): x",
        ),
    ]
    return r


def test_json_is_schema_valid_and_classes(tmp_path):
    r = sample()
    paths = report_mod.write_all(r, tmp_path)
    data = json.loads(paths["json"].read_text())
    schemas.validate("conformance-report", data)
    # The expected failure (xfail) still fails its class; only the exit code is spared.
    assert data["classes"] == {"Issuer": "failed", "Verifier": "failed"}
    assert data["summary"] == {
        "passed": 1,
        "failed": 1,
        "warned": 1,
        "skipped": 1,
        "expected_failures": 1,
    }
    assert not r.passed()


def test_junit_parses(tmp_path):
    paths = report_mod.write_all(sample(), tmp_path)
    root = ET.parse(paths["junit"]).getroot()  # noqa: S314 - our own output
    assert root.tag == "testsuites"
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert cases["verifier.wrong_aud"].find("failure") is not None
    assert cases["issuer.metadata"].find("skipped") is not None
    assert cases["issuer.jwks"].find("skipped") is not None
    assert root.get("failures") == "1"
    for suite in root.iter("testsuite"):
        props = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
        assert props == {"spec_version": "draft-00", "suite_version": "0.1.0"}


def test_html_escapes_everything(tmp_path):
    paths = report_mod.write_all(sample(), tmp_path)
    text = paths["html"].read_text()
    assert "<script>" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    assert "http" in text and "MCPA-VER-015" in text
    assert 'id="verifier.wrong_aud"' in text
    assert "Content-Security-Policy" in text
    assert "suite mcp-auth-spec 0.1.0 (implements draft-00)" in text


def test_badges(tmp_path):
    paths = report_mod.write_all(sample(), tmp_path)
    badge = json.loads(paths["badge"].read_text())
    schemas.validate("badge-endpoint", badge)
    assert badge["color"] == "red" and "Verifier" in badge["message"]
    assert badge["message"].endswith(" (suite 0.1.0)")  # which suite found the failures
    svg = ET.parse(paths["svg"]).getroot()  # noqa: S314 - our own output
    assert svg.tag.endswith("svg")
    good = sample()
    good.checks = [c for c in good.checks if c.outcome not in ("fail", "xfail", "skip")]
    good.checks.append(
        CheckResult("issuer.jwks", "jwks", "issuer", ["MCPA-DSC-003"], "MUST", outcome="pass")
    )
    ok = report_mod.badge_json(good)
    assert ok["message"] == "Issuer · Verifier (suite 0.1.0)" and ok["color"] == "brightgreen"
    assert ok["label"] == "MCP-Auth draft-00"
    untested = sample()
    untested.checks = []
    assert report_mod.badge_json(untested)["message"] == "not tested (suite 0.1.0)"


def test_skipped_must_check_leaves_the_class_incomplete():
    """A skipped MUST-level check has not been passed (MCPA-CNF-002, issuer log entry 24)."""
    r = sample()
    r.checks = [
        CheckResult("issuer.jwks", "jwks", "issuer", ["MCPA-DSC-003"], "MUST", outcome="pass"),
        CheckResult("issuer.grant_revocation", "kill switch", "issuer", ["MCPA-REV-001"], "MUST",
                    outcome="skip", reason="grants mode is 'existing'"),
        CheckResult("issuer.metadata_cacheable", "max-age", "issuer", ["MCPA-DSC-009"], "SHOULD",
                    outcome="skip", reason="no max-age"),
    ]  # fmt: skip
    assert r.classes()["Issuer"] == "incomplete"
    schemas.validate("conformance-report", r.to_json())
    assert report_mod.badge_json(r)["message"] != "Issuer (suite 0.1.0)"
    r.checks.pop(1)
    assert r.classes()["Issuer"] == "passed"
