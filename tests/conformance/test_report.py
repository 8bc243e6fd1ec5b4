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
        "draft-01",
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
            "verifier.ed25519_accepted",
            "Ed25519",
            "verifier",
            ["MCPA-TOK-023"],
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


def test_html_escapes_everything(tmp_path):
    paths = report_mod.write_all(sample(), tmp_path)
    text = paths["html"].read_text()
    assert "<script>" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    assert "http" in text and "MCPA-VER-015" in text
    assert 'id="verifier.wrong_aud"' in text
    assert "Content-Security-Policy" in text


def test_badges(tmp_path):
    paths = report_mod.write_all(sample(), tmp_path)
    badge = json.loads(paths["badge"].read_text())
    schemas.validate("badge-endpoint", badge)
    assert badge["color"] == "red" and "Verifier" in badge["message"]
    svg = ET.parse(paths["svg"]).getroot()  # noqa: S314 - our own output
    assert svg.tag.endswith("svg")
    good = sample()
    good.checks = [c for c in good.checks if c.outcome not in ("fail", "xfail")]
    good.checks.append(
        CheckResult("issuer.jwks", "jwks", "issuer", ["MCPA-DSC-003"], "MUST", outcome="pass")
    )
    ok = report_mod.badge_json(good)
    assert ok["message"] == "Issuer · Verifier" and ok["color"] == "brightgreen"
    assert "draft-01" in ok["label"]
