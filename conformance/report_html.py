"""report.html: one standalone page a person can read, even for a long failing run.

Order: the run's header, the reason if the run was aborted, a summary table (counts per
class and per spec chapter, every failure linked), then the failures, expected failures
and warnings in full (requirement text, link, reason, counterexample), then the skipped
and the passed checks in collapsed ``<details>`` sections. No JavaScript, no external
resources (a Content-Security-Policy forbids both); every piece of target-, token- or
spec-derived text is escaped. Requirement texts are rendered from their Markdown
(:mod:`mdlite`) and shown inline, so the page is useful offline; their links go to the
published specification of the version the run used.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from typing import Any

from mcp_auth import DISTRIBUTION
from mcp_auth.conformance import mdlite
from mcp_auth.conformance.results import (
    CheckResult,
    Report,
    chapter,
    requirement_url,
    requirements,
    spec_base_url,
)

# Outcomes in the order the page shows them; "problems" are shown in full.
ORDER = ("fail", "xfail", "warn", "skip", "pass")
PROBLEMS = ("fail", "xfail", "warn")
LABEL = dict(zip(ORDER, ("failed", "expected failure", "warned", "skipped", "passed"), strict=True))

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem;color:#1b1f24;
max-width:75rem}h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#1a7f37}.fail{color:#cf222e;font-weight:bold}.warn{color:#9a6700}
.skip,.xfail{color:#57606a}.zero{color:#aab}
pre{background:#f6f8fa;padding:.6rem;overflow:auto;white-space:pre-wrap;word-break:break-all;
font-size:.85rem}code{background:#f0f2f4;padding:0 .2em;border-radius:3px;font-size:.9em}
section.failure{border-left:4px solid #cf222e;padding-left:1rem;margin:1.5rem 0;
color:#1b1f24;font-weight:normal}section.failure h3{color:#cf222e;margin-bottom:.3rem}
section.warn{border-left-color:#9a6700}section.warn h3{color:#9a6700}
section.xfail{border-left-color:#57606a}section.xfail h3{color:#57606a}
.aborted{border:2px solid #cf222e;background:#fff5f5;padding:.6rem 1rem;margin:1rem 0}
details{margin:.6rem 0}summary{cursor:pointer;font-weight:bold}
ul.reqs{padding-left:1.2rem}ul.reqs li{margin:.3rem 0}.meta{color:#57606a}
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def html_report(report: Report) -> str:
    parts = [
        _header(report),
        _aborted(report),
        _summary(report),
        _problems(report),
        _collapsed(report, "skip"),
        _collapsed(report, "pass"),
    ]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>MCP-Auth conformance report</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<style>{_CSS}</style></head><body>
{"".join(p for p in parts if p)}
</body></html>
"""


# -- header and abort -------------------------------------------------------------------------


def _header(report: Report) -> str:
    """Title and what was run (target, classes, profile, seed, suite version, times)."""
    target = ", ".join(f"{_e(k)}: {_e(v)}" for k, v in report.target.items())
    cls = ", ".join(
        f"{_e(k)}: <b>{_e(v.replace('_', ' '))}</b>" for k, v in report.classes().items()
    )
    base = spec_base_url(report.spec_version)
    return f"""<h1>MCP-Auth {_e(report.spec_version)} conformance report</h1>
<p>Target: {target}<br>Classes: {cls}<br>
Profile {_e(report.profile)}, seed {report.seed},
suite {DISTRIBUTION} {_e(report.suite_version)} (implements {_e(report.spec_version)});
{_e(report.started_at)} to {_e(report.finished_at)}<br>
Specification: <a href="{_e(base)}">{_e(base)}</a> (requirement texts are quoted below)</p>
"""


def _aborted(report: Report) -> str:
    a = report.aborted
    if a is None:
        return ""
    what = {
        "preflight": "The run was aborted before any check: the target is not what the "
        "configuration says.",
        "setup": "The run was aborted: the suite could not set up the run.",
        "gate": "The run was aborted after the first check of a class failed; the "
        "class's other checks were not run.",
    }.get(a.stage, "The run was aborted.")
    role = f" ({_e(a.role)})" if a.role else ""
    return (
        f'<div class="aborted" id="aborted"><p><b>Run aborted — {_e(a.stage)}{role}.</b> '
        f"{_e(what)}</p><p>{_e(a.reason)}</p><p>Exit code 2.</p></div>\n"
    )


# -- summary ----------------------------------------------------------------------------------


def _count_row(label: str, checks: list[CheckResult], result: str = "") -> str:
    n = Counter(c.outcome for c in checks)
    cells = "".join(
        f'<td class="n {o if n[o] else "zero"}">{n[o]}</td>' for o in ORDER if o != "skip"
    )
    ms = sum(c.duration_ms for c in checks)
    return (
        f"<tr><td>{label}</td><td>{_e(result)}</td>{cells}"
        f'<td class="n {"skip" if n["skip"] else "zero"}">{n["skip"]}</td>'
        f'<td class="n">{len(checks)}</td><td class="n">{ms / 1000:.1f}</td></tr>'
    )


def _summary(report: Report) -> str:
    s = report.summary()
    head = (
        "<tr><th></th><th>result</th>"
        + "".join(f"<th>{LABEL[o]}</th>" for o in ORDER if o != "skip")
        + "<th>skipped</th><th>checks</th><th>seconds</th></tr>"
    )
    rows = []
    for cls, result in report.classes().items():
        mine = [c for c in report.checks if c.role == cls.lower()]
        rows.append(_count_row(f"<b>{_e(cls)} class</b>", mine, result.replace("_", " ")))
    if report.checks:
        rows.append('<tr><th colspan="9">By spec chapter (of the first requirement)</th></tr>')
    chapters: dict[str, list[CheckResult]] = {}
    for c in report.checks:
        chapters.setdefault(chapter(c.requirements[0]) if c.requirements else "-", []).append(c)
    base = spec_base_url(report.spec_version)
    for name in sorted(chapters):
        title = _chapter_title(name)
        link = f'<a href="{_e(base + name + "/")}">{_e(title)}</a>' if title != name else _e(name)
        rows.append(_count_row(link, chapters[name]))
    problems = [c for o in PROBLEMS for c in report.checks if c.outcome == o]
    links = "".join(
        f'<li><a href="#{_e(c.id)}" class="{_e(c.outcome)}">{_e(c.id)}</a> '
        f"<span class=meta>({_e(LABEL[c.outcome])}; {_e(', '.join(c.requirements))})</span> "
        f"{_e(c.title)}</li>"
        for c in problems
    )
    if problems:
        listing = f"<p>Not met:</p><ol>{links}</ol>"
    elif report.checks:
        listing = "<p>Every check that ran passed.</p>"
    else:
        listing = "<p>No check was run.</p>"
    missing = (
        ""
        if requirements()
        else "<p><em>The requirement catalog (requirements.json) was not available: "
        "requirement texts are not shown.</em></p>"
    )
    return f"""<h2>Summary</h2>
<p>{s["passed"]} passed, {s["failed"]} failed, {s["warned"]} warned, {s["skipped"]} skipped,
{s["expected_failures"]} expected failures.</p>{missing}
<table><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>
{listing}
"""


def _chapter_title(name: str) -> str:
    """``05-verification`` -> ``5. Verification``."""
    num, _, rest = name.partition("-")
    if not num.isdigit() or not rest:
        return name
    return f"{int(num)}. {rest.replace('-', ' ').capitalize()}"


# -- failures in full -------------------------------------------------------------------------


def _problems(report: Report) -> str:
    sections = [
        _failure_section(c, report.spec_version)
        for o in PROBLEMS
        for c in report.checks
        if c.outcome == o
    ]
    if not sections:
        return ""
    return "<h2>Failures, expected failures and warnings</h2>\n" + "\n".join(sections)


def _requirement_items(c: CheckResult, spec_version: str) -> str:
    base = spec_base_url(spec_version)
    items = []
    for r in c.requirements:
        req = requirements().get(r)
        text = f" <span>{mdlite.inline(req.text, base)}</span>" if req else ""
        level = f" <span class=meta>({_e(req.level)})</span>" if req and req.level else ""
        items.append(f'<li><a href="{_e(requirement_url(r, spec_version))}">{_e(r)}</a>')
        items[-1] += f"{level}{text}</li>"
    return f'<ul class="reqs">{"".join(items)}</ul>'


def _failure_section(c: CheckResult, spec_version: str) -> str:
    parts = [
        f'<section class="failure {_e(c.outcome)}" id="{_e(c.id)}">',
        f"<h3>{_e(c.id)} — {_e(c.title)}</h3>",
        f"<p><b>{_e(LABEL.get(c.outcome, c.outcome))}</b> ({_e(c.severity)}, "
        f"{c.duration_ms} ms): {_e(c.reason)}</p>",
        _requirement_items(c, spec_version),
    ]
    cx = c.counterexample
    if cx:
        parts.append("<h4>Minimal counterexample</h4>")
        if "note" in cx:
            parts.append(f"<pre>{_e(cx['note'])}</pre>")
        for key, title in (
            ("token_header", "Token header (decoded)"),
            ("token_claims", "Token claims (decoded)"),
            ("request", "Request"),
            ("response", "Response"),
        ):
            if key in cx:
                parts.append(
                    f"<h4>{title}</h4><pre>"
                    f"{_e(json.dumps(cx[key], indent=2, ensure_ascii=False))}</pre>"
                )
    parts.append("</section>")
    return "\n".join(parts)


# -- skipped and passed, collapsed ------------------------------------------------------------


def _collapsed(report: Report, outcome: str) -> str:
    checks = [c for c in report.checks if c.outcome == outcome]
    if not checks:
        return ""
    rows = []
    for c in checks:
        reqs = " ".join(
            f'<a href="{_e(requirement_url(r, report.spec_version))}">{_e(r)}</a>'
            for r in c.requirements
        )
        rows.append(
            f'<tr id="{_e(c.id)}"><td>{_e(c.id)}</td><td>{_e(c.title)}</td><td>{reqs}</td>'
            f'<td>{_e(c.severity)}</td><td class="n">{c.duration_ms}</td>'
            f"<td>{_e(c.reason)}</td></tr>"
        )
    return (
        f'<details id="{_e(outcome)}"><summary class="{_e(outcome)}">{len(checks)} '
        f"{_e(LABEL[outcome])}</summary><table><thead><tr><th>check</th><th>title</th>"
        "<th>requirements</th><th>level</th><th>ms</th><th>note</th></tr></thead><tbody>"
        f"{''.join(rows)}</tbody></table></details>\n"
    )
