"""Report writers: schema-valid JSON, parseable JUnit, escaped standalone HTML, badges."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from mcp_auth import schemas
from mcp_auth.conformance import report as report_mod
from mcp_auth.conformance.report_html import html_report
from mcp_auth.conformance.report_terminal import summary_text
from mcp_auth.conformance.results import Aborted, CheckResult, Report

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
    for suite in root.iter("testsuite"):
        props = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
        assert props == {"spec_version": "draft-01", "suite_version": "0.1.0"}


def test_html_escapes_everything(tmp_path):
    paths = report_mod.write_all(sample(), tmp_path)
    text = paths["html"].read_text()
    assert "<script>" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    assert "http" in text and "MCPA-VER-015" in text
    assert 'id="verifier.wrong_aud"' in text
    assert "Content-Security-Policy" in text
    assert "suite mcp-auth-spec 0.1.0 (implements draft-01)" in text


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
    assert ok["label"] == "MCP-Auth draft-01"
    untested = sample()
    untested.checks = []
    assert report_mod.badge_json(untested)["message"] == "not tested (suite 0.1.0)"


def test_html_failures_first_passes_collapsed_summary_links(tmp_path):
    text = report_mod.write_all(sample(), tmp_path)["html"].read_text()
    summary = text.index("<h2>Summary</h2>")
    failure = text.index('<section class="failure fail" id="verifier.wrong_aud">')
    xfail = text.index('id="issuer.jwks"')
    warn = text.index('id="verifier.ed25519_accepted"')
    skipped = text.index('<details id="skip">')
    passed = text.index('<details id="pass">')
    assert summary < failure < xfail < warn < skipped < passed
    assert '<details id="pass" open' not in text  # collapsed by default
    # The summary links every check not met, and counts per class and per chapter.
    head = text[summary:failure]
    for check_id in ("verifier.wrong_aud", "issuer.jwks", "verifier.ed25519_accepted"):
        assert f'href="#{check_id}"' in head
    assert "Verifier class" in head and "5. Verification" in head
    assert "<script" not in text.lower()


def test_html_requirement_text_rendered_and_linked_to_the_run_version(tmp_path):
    r = sample()
    text = report_mod.write_all(r, tmp_path)["html"].read_text()
    # MCPA-VER-015's text, rendered from Markdown (no raw backticks) and quoted inline.
    assert "answer 401 <code>invalid_token</code> unless <code>aud</code> is identical" in text
    assert "`invalid_token`" not in text
    assert 'href="https://mcp-auth.dev/draft-01/05-verification/#MCPA-VER-015"' in text
    r.spec_version = "draft-02"  # the links follow the version the run used
    text = html_report(r)
    assert 'href="https://mcp-auth.dev/draft-02/05-verification/#MCPA-VER-015"' in text


def test_aborted_run_in_json_and_html(tmp_path):
    r = sample()
    r.checks = []
    r.aborted = Aborted("preflight", "target http://127.0.0.1:9/x is not " + EVIL, "verifier")
    paths = report_mod.write_all(r, tmp_path)
    data = json.loads(paths["json"].read_text())
    schemas.validate("conformance-report", data)
    assert data["aborted"] == {"stage": "preflight", "reason": r.aborted.reason, "role": "verifier"}
    page = paths["html"].read_text()
    assert "Run aborted — preflight (verifier)" in page and "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "aborted" not in json.loads(
        report_mod.write_all(sample(), tmp_path / "ok")["json"].read_text()
    )


def test_terminal_summary_names_slow_checks():
    r = sample()
    r.checks[0].duration_ms = 4200
    text = summary_text(r)
    assert "slowest checks: verifier.alg_none 4.2 s" in text
    r.checks[0].duration_ms = 3
    assert "slowest" not in summary_text(r)


def test_durations_in_json_and_html(tmp_path):
    r = sample()
    paths = report_mod.write_all(r, tmp_path)
    data = json.loads(paths["json"].read_text())
    assert [c["duration_ms"] for c in data["checks"]] == [c.duration_ms for c in r.checks]
    assert '<td class="n">3</td>' in paths["html"].read_text()  # the passed check's 3 ms


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
