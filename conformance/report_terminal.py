"""The summary printed at the end of a run: classes, counts, failures, the slowest checks."""

from __future__ import annotations

from mcp_auth.conformance.results import Report

SLOW_MS = 1000  # checks at least this slow are named in the summary
SLOWEST = 5


def summary_text(report: Report) -> str:
    s = report.summary()
    lines = [
        "",
        f"MCP-Auth {report.spec_version} conformance — profile {report.profile}, "
        f"seed {report.seed}",
    ]
    for k, v in report.classes().items():
        lines.append(f"  {k:9} {v}")
    stale = [c.id for c in report.checks if c.outcome == "pass" and "but passed" in c.reason]
    if stale:
        lines.append("  stale expected-failure entries (these passed): " + ", ".join(stale))
    if report.aborted:
        lines.append(f"  run aborted ({report.aborted.stage}): {report.aborted.reason}")
    lines.append(
        f"  {s['passed']} passed, {s['failed']} failed, {s['warned']} warned, "
        f"{s['skipped']} skipped, {s['expected_failures']} expected failures"
    )
    slow = sorted(
        (c for c in report.checks if c.duration_ms >= SLOW_MS),
        key=lambda c: -c.duration_ms,
    )[:SLOWEST]
    if slow:
        lines.append(
            "  slowest checks: " + ", ".join(f"{c.id} {c.duration_ms / 1000:.1f} s" for c in slow)
        )
    for c in report.checks:
        if c.outcome in ("fail", "warn"):
            lines.append(
                f"  {c.outcome.upper()} {c.id} [{', '.join(c.requirements)}]: "
                f"{c.reason.splitlines()[0][:200]}"
            )
    return "\n".join(lines)
