"""Results model: one :class:`CheckResult` per check, collected into a :class:`Report`."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urljoin

from mcp_auth import SPEC_VERSION

REQUIREMENT_ID = re.compile(r"^MCPA-(GEN|TOK|GRT|CLA|ISS|XCH|VER|REV|AUD|DSC|CNF|SEC)-\d{3}$")
CHECK_ID = re.compile(r"^(issuer|verifier)\.[a-z0-9_]+$")
OUTCOMES = ("pass", "fail", "warn", "skip", "xfail")
# The published specification; the version is part of the path (``/draft-01/``).
SPEC_SITE = "https://mcp-auth.dev/"
SPEC_BASE_URL = f"{SPEC_SITE}{SPEC_VERSION}/"
ABORT_STAGES = ("preflight", "setup", "gate")


@dataclass(frozen=True)
class Requirement:
    id: str
    level: str
    page: str
    anchor_url: str
    text: str


@cache
def requirements() -> dict[str, Requirement]:
    """The requirement catalog generated from the spec, or {} until it exists."""
    try:
        text = (
            resources.files("mcp_auth.conformance")
            .joinpath("data/requirements.json")
            .read_text("utf-8")
        )
        data = json.loads(text)
    except (FileNotFoundError, OSError, ValueError):
        return {}
    items = data.get("requirements", data) if isinstance(data, dict) else data
    out: dict[str, Requirement] = {}
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            out[item["id"]] = Requirement(
                item["id"],
                str(item.get("level", "")),
                str(item.get("page", "")),
                str(item.get("anchor_url", "")),
                str(item.get("text", "")),
            )
    return out


def spec_base_url(spec_version: str) -> str:
    """The published specification of ``spec_version`` (the version the run tested)."""
    return f"{SPEC_SITE}{spec_version}/"


def requirement_url(req_id: str, spec_version: str) -> str:
    base = spec_base_url(spec_version)
    req = requirements().get(req_id)
    if req and req.anchor_url:
        return urljoin(base, req.anchor_url)  # catalog URLs are site-relative
    return f"{base}requirements/#{req_id}"


def chapter(req_id: str) -> str:
    """The spec page a requirement is on (``05-verification``), or its area."""
    req = requirements().get(req_id)
    if req and req.page:
        return req.page.removesuffix(".md")
    return req_id.split("-")[1] if req_id.count("-") == 2 else req_id


@dataclass
class Aborted:
    """Why the run could not be performed (exit code 2)."""

    stage: str  # "preflight": the target is not an issuer/verifier; "setup"; "gate"
    reason: str
    role: str = ""

    def to_json(self) -> dict[str, Any]:
        out = {"stage": self.stage, "reason": self.reason}
        if self.role:
            out["role"] = self.role
        return out


@dataclass
class CheckResult:
    id: str
    title: str
    role: str
    requirements: list[str]
    severity: str  # "MUST" | "SHOULD"
    outcome: str = "skip"
    reason: str = ""
    counterexample: dict[str, Any] | None = None
    duration_ms: int = 0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "requirements": list(self.requirements),
            "severity": self.severity,
            "role": self.role,
            "outcome": self.outcome,
        }
        if self.reason:
            out["reason"] = self.reason
        if self.counterexample is not None:
            out["counterexample"] = self.counterexample
        out["duration_ms"] = self.duration_ms
        return out


@dataclass
class Report:
    spec_version: str
    suite_version: str
    profile: str
    roles: list[str]
    target: dict[str, str]
    seed: int
    started_at: str = ""
    finished_at: str = ""
    checks: list[CheckResult] = field(default_factory=list)
    aborted: Aborted | None = None  # why the run could not be performed (exit code 2)

    def summary(self) -> dict[str, int]:
        count = {o: sum(1 for c in self.checks if c.outcome == o) for o in OUTCOMES}
        return {
            "passed": count["pass"],
            "failed": count["fail"],
            "warned": count["warn"],
            "skipped": count["skip"],
            "expected_failures": count["xfail"],
        }

    def class_outcome(self, role: str) -> str:
        """ "passed", "failed", "incomplete" or "not_tested" for a conformance class."""
        mine = [c for c in self.checks if c.role == role]
        if role not in self.roles or not mine or all(c.outcome == "skip" for c in mine):
            return "not_tested"
        # An expected failure still fails the class (it only spares the exit code).
        if any(c.outcome in ("fail", "xfail") for c in mine):
            return "failed"
        # A skipped MUST-level check was not passed: no claim can rest on it (chapter 9.1).
        return (
            "incomplete"
            if any(c.outcome == "skip" and c.severity == "MUST" for c in mine)
            else "passed"
        )

    def classes(self) -> dict[str, str]:
        return {"Issuer": self.class_outcome("issuer"), "Verifier": self.class_outcome("verifier")}

    def passed(self) -> bool:
        """No MUST failed (after expected failures)."""
        return not any(c.outcome == "fail" for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        """The report as ``schemas/conformance-report.schema.json`` describes it."""
        return {
            "spec_version": self.spec_version,
            "suite_version": self.suite_version,
            "target": dict(self.target),
            "seed": self.seed,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "profile": self.profile,
            "roles": list(self.roles),
            "summary": self.summary(),
            "classes": self.classes(),
            "checks": [c.to_json() for c in self.checks],
            **({"aborted": self.aborted.to_json()} if self.aborted else {}),
        }
