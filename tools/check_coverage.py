"""Requirement-ID coverage.

1. Every requirement ID named anywhere in the code, tests or docs outside the spec pages
   (``reference/``, ``conformance/``, ``tests/``, ``schemas/``, ``bench/``, the guides)
   exists in the spec. A typo'd or retired ID fails the build.
2. Every MUST and SHOULD requirement is either tagged on at least one conformance check
   (named in ``conformance/``) or listed in ``tools/coverage_exemptions.toml`` with the
   reason it cannot be observed over HTTP. An exemption for an ID that a check does cover,
   or for an unknown ID, also fails: the list stays honest.
3. Prints, per area, how many requirements the suite and the reference's own tests name.

Usage: ``python tools/check_coverage.py``
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "conformance" / "data" / "requirements.json"
EXEMPTIONS = ROOT / "tools" / "coverage_exemptions.toml"
ID = re.compile(r"MCPA-[A-Z]{3}-[0-9]{3}")
SCANNED = ("reference", "conformance", "tests", "schemas", "bench", "spec/guides", "package")
SUFFIXES = {".py", ".json", ".toml", ".md", ".html"}


def ids_in(folder: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(folder.rglob("*")):
        if path.suffix not in SUFFIXES or path == CATALOG or "__pycache__" in path.parts:
            continue
        for number, line in enumerate(path.read_text("utf-8", errors="replace").splitlines(), 1):
            for req_id in ID.findall(line):
                found.setdefault(req_id, []).append(f"{path.relative_to(ROOT)}:{number}")
    return found


def main() -> int:
    catalog = json.loads(CATALOG.read_text("utf-8"))["requirements"]
    levels = {r["id"]: r["level"] for r in catalog}
    exemptions: dict[str, str] = tomllib.loads(EXEMPTIONS.read_text("utf-8")).get("exempt", {})
    problems: list[str] = []

    named: dict[str, list[str]] = {}
    for folder in SCANNED:
        if (ROOT / folder).exists():
            for req_id, places in ids_in(ROOT / folder).items():
                named.setdefault(req_id, []).extend(places)
    for req_id, places in sorted(named.items()):
        if req_id not in levels:
            problems.append(f"{req_id} is not in the spec (named at {', '.join(places[:3])})")

    checked = set(ids_in(ROOT / "conformance")) if (ROOT / "conformance").exists() else set()
    for req_id, reason in sorted(exemptions.items()):
        if req_id not in levels:
            problems.append(f"exemption for unknown requirement {req_id}")
        elif req_id in checked:
            problems.append(f"{req_id} is exempted ({reason!r}) but a conformance check names it")
        elif not reason.strip():
            problems.append(f"exemption for {req_id} has no reason")
    uncovered = [
        req_id
        for req_id, level in sorted(levels.items())
        if level in {"MUST", "SHOULD"} and req_id not in checked and req_id not in exemptions
    ]
    for req_id in uncovered:
        problems.append(
            f"{req_id} ({levels[req_id]}) is neither checked by the conformance suite "
            f"nor exempted in {EXEMPTIONS.relative_to(ROOT)}"
        )

    tested = set(ids_in(ROOT / "tests")) if (ROOT / "tests").exists() else set()
    areas = Counter(req_id.split("-")[1] for req_id in levels)
    print("area  reqs  suite  tests")
    for area in sorted(areas):
        in_area = [r for r in levels if r.split("-")[1] == area]
        print(
            f"{area:<5} {areas[area]:>4}  {sum(r in checked for r in in_area):>5}"
            f"  {sum(r in tested for r in in_area):>5}"
        )
    for problem in problems:
        print(f"coverage: {problem}", file=sys.stderr)
    print(
        f"coverage: {len(levels)} requirements, {len(checked & set(levels))} named by the suite, "
        f"{len(exemptions)} exempted, {len(problems)} problems"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
