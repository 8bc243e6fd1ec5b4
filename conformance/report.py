"""Report writers: report.json, junit.xml, report.html, badge.svg and badge.json.

The HTML page is built in :mod:`report_html`, the terminal summary in :mod:`report_terminal`.

Everything written is self-contained (no network, no scripts); every piece of target- or
token-derived text in the HTML is escaped.
"""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from mcp_auth import schemas
from mcp_auth.conformance.report_html import html_report
from mcp_auth.conformance.results import CheckResult, Report


def write_all(report: Report, out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out / "report.json",
        "junit": out / "junit.xml",
        "html": out / "report.html",
        "svg": out / "badge.svg",
        "badge": out / "badge.json",
    }
    data = report.to_json()
    validate("conformance-report", data)
    paths["json"].write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", "utf-8")
    paths["junit"].write_bytes(junit_xml(report))
    paths["html"].write_text(html_report(report), "utf-8")
    badge = badge_json(report)
    validate("badge-endpoint", badge)
    paths["badge"].write_text(json.dumps(badge, indent=2) + "\n", "utf-8")
    paths["svg"].write_text(badge_svg(badge["label"], badge["message"], badge["color"]), "utf-8")
    return paths


def validate(name: str, instance: Any) -> None:
    """Validate against the project's schema (a suite bug if it fails)."""
    schemas.validate(name, instance)


# -- JUnit -----------------------------------------------------------------------------------


def junit_xml(report: Report) -> bytes:
    s = report.summary()
    suites = ET.Element(
        "testsuites",
        name="mcp-auth-conformance",
        tests=str(len(report.checks)),
        failures=str(s["failed"]),
        skipped=str(s["skipped"] + s["expected_failures"]),
    )
    for role in ("issuer", "verifier"):
        checks = [c for c in report.checks if c.role == role]
        if not checks:
            continue
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=f"mcpa.{role}",
            tests=str(len(checks)),
            failures=str(sum(c.outcome == "fail" for c in checks)),
            skipped=str(sum(c.outcome in ("skip", "xfail") for c in checks)),
            time=f"{sum(c.duration_ms for c in checks) / 1000:.3f}",
            timestamp=report.started_at,
        )
        suite_props = ET.SubElement(suite, "properties")
        ET.SubElement(suite_props, "property", name="spec_version", value=report.spec_version)
        ET.SubElement(suite_props, "property", name="suite_version", value=report.suite_version)
        for c in checks:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"mcpa.{role}",
                name=c.id,
                time=f"{c.duration_ms / 1000:.3f}",
            )
            props = ET.SubElement(case, "properties")
            ET.SubElement(props, "property", name="requirements", value=" ".join(c.requirements))
            ET.SubElement(props, "property", name="severity", value=c.severity)
            if c.outcome == "fail":
                f = ET.SubElement(
                    case, "failure", message=_xml_safe(c.reason), type=c.requirements[0]
                )
                f.text = _xml_safe(_failure_text(c))
            elif c.outcome in ("skip", "xfail"):
                ET.SubElement(case, "skipped", message=_xml_safe(f"{c.outcome}: {c.reason}"))
            elif c.outcome == "warn":
                out = ET.SubElement(case, "system-out")
                out.text = _xml_safe(f"WARNING (SHOULD): {c.reason}\n{_failure_text(c)}")
    data: bytes = ET.tostring(suites, encoding="utf-8", xml_declaration=True)
    return data


def _xml_safe(text: str) -> str:
    """Drop characters XML 1.0 cannot carry (a token may contain anything)."""
    return "".join(
        ch
        for ch in text
        if ch in "\t\n\r"
        or (ord(ch) >= 0x20 and ord(ch) not in (0xFFFE, 0xFFFF) and not 0xD800 <= ord(ch) <= 0xDFFF)
    )


def _failure_text(c: CheckResult) -> str:
    parts = [f"{c.id}: {c.reason}", "requirements: " + ", ".join(c.requirements)]
    if c.counterexample:
        parts.append(json.dumps(c.counterexample, indent=2, ensure_ascii=False))
    return "\n".join(parts)


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


# -- badges ----------------------------------------------------------------------------------


def badge_json(report: Report) -> dict[str, Any]:
    """The label names the draft tested against, the message the result and the suite
    version that produced it: ``MCP-Auth draft-01 | Issuer · Verifier (suite 0.2.0)``."""
    classes = report.classes()
    passed = [k for k, v in classes.items() if v == "passed"]
    failed = {
        k: sum(1 for c in report.checks if c.role == k.lower() and c.outcome in ("fail", "xfail"))
        for k, v in classes.items()
        if v == "failed"
    }
    label = f"MCP-Auth {report.spec_version}"
    suite = f" (suite {report.suite_version})"
    if failed:
        msg = ", ".join(f"{k}: {n} failed" for k, n in failed.items()) + suite
        return {"schemaVersion": 1, "label": label, "message": msg, "color": "red", "isError": True}
    if not passed:
        return {
            "schemaVersion": 1,
            "label": label,
            "message": "not tested" + suite,
            "color": "lightgrey",
        }
    return {
        "schemaVersion": 1,
        "label": label,
        "message": " · ".join(passed) + suite,
        "color": "brightgreen",
    }


_COLORS = {"brightgreen": "#4c1", "red": "#e05d44", "lightgrey": "#9f9f9f"}


def _text_width(text: str) -> int:
    return int(sum(7.2 if ch.isupper() else 6.1 for ch in text)) + 10


def badge_svg(label: str, message: str, color: str) -> str:
    """A flat shields-style badge, drawn locally."""
    lw, mw = _text_width(label), _text_width(message)
    w = lw + mw
    fill = _COLORS.get(color, color)
    return f"""<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="20" role="img" \
aria-label="{_e(label)}: {_e(message)}">
<title>{_e(label)}: {_e(message)}</title>
<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>\
<stop offset="1" stop-opacity=".1"/></linearGradient>
<clipPath id="r"><rect width="{w}" height="20" rx="3" fill="#fff"/></clipPath>
<g clip-path="url(#r)"><rect width="{lw}" height="20" fill="#555"/>\
<rect x="{lw}" width="{mw}" height="20" fill="{_e(fill)}"/>\
<rect width="{w}" height="20" fill="url(#s)"/></g>
<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" \
font-size="11">
<text x="{lw / 2:.1f}" y="14">{_e(label)}</text>
<text x="{lw + mw / 2:.1f}" y="14">{_e(message)}</text></g>
</svg>
"""
