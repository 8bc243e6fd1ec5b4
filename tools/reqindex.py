"""Requirement IDs of the MCP-Auth spec: extract, check, and generate the index.

Every paragraph or list item of ``spec/`` that contains an RFC 2119 / RFC 8174 keyword in
capitals must start with exactly one requirement tag::

    - **MCPA-VER-008**{ #MCPA-VER-008 } The verifier MUST reject ...

This script finds every block, fails on a normative block without a tag, a tag without a
normative keyword, a tag not at the start of its block, a malformed or duplicate ID and a
keyword in a heading, table or admonition; then writes

* ``spec/requirements.md`` — the rendered index (one row per requirement), and
* ``conformance/data/requirements.json`` — the same list for the conformance report
  (schema ``requirements-catalog``).

``--check`` writes nothing and fails when either output is stale.

Usage: ``python tools/reqindex.py [--check]``
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "spec"
INDEX_MD = SPEC / "requirements.md"
INDEX_JSON = ROOT / "conformance" / "data" / "requirements.json"
SPEC_VERSION = "draft-01"

# Pages that are generated or explanatory and may not contain normative text.
GENERATED = {"requirements.md"}

KEYWORD = re.compile(
    r"(?<![A-Za-z0-9_-])(MUST NOT|MUST|REQUIRED|SHALL NOT|SHALL|SHOULD NOT|SHOULD|"
    r"NOT RECOMMENDED|RECOMMENDED|MAY|OPTIONAL)(?![A-Za-z0-9_-])"
)
LEVEL_OF = {
    "MUST": "MUST",
    "MUST NOT": "MUST",
    "REQUIRED": "MUST",
    "SHALL": "MUST",
    "SHALL NOT": "MUST",
    "SHOULD": "SHOULD",
    "SHOULD NOT": "SHOULD",
    "RECOMMENDED": "SHOULD",
    "NOT RECOMMENDED": "SHOULD",
    "MAY": "MAY",
    "OPTIONAL": "MAY",
}
RANK = {"MUST": 0, "SHOULD": 1, "MAY": 2}
ID_PATTERN = r"MCPA-(?:GEN|TOK|GRT|CLA|ISS|XCH|VER|REV|AUD|DSC|CNF|SEC)-[0-9]{3}"
TAG = re.compile(r"\*\*(" + ID_PATTERN + r")\*\*\{\s*#(" + ID_PATTERN + r")\s*\}")
ANY_ID_TAG = re.compile(r"\*\*(MCPA-[A-Z0-9-]+)\*\*\{[^}]*\}")
LIST_MARKER = re.compile(r"^(\s*)(?:[-*+]|\d+[.)])\s+")
FENCE = re.compile(r"^\s*(```|~~~)")
BOILERPLATE = "The key words"


@dataclass(frozen=True)
class Requirement:
    id: str
    level: str
    page: str
    title: str
    line: int
    text: str

    @property
    def anchor_url(self) -> str:
        return f"{self.page[:-3]}/#{self.id}"


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    kind: str  # paragraph | item | heading | table | admonition
    text: str


def _strip_code(text: str) -> str:
    return re.sub(r"`[^`]*`", "", text)


def blocks_of(page: str, source: str) -> list[Block]:
    """Split a Markdown page into paragraph, list item, heading, table and admonition blocks."""
    out: list[Block] = []
    lines = source.splitlines()
    current: list[str] = []
    start = 0
    kind = "paragraph"
    in_fence = False
    admonition_indent: int | None = None

    def flush() -> None:
        nonlocal current
        if current:
            out.append(Block(page, start + 1, kind, "\n".join(current).strip()))
        current = []

    for number, line in enumerate(lines):
        if FENCE.match(line):
            flush()
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if admonition_indent is not None:
            if stripped and indent <= admonition_indent:
                admonition_indent = None
            else:
                if stripped:
                    out.append(Block(page, number + 1, "admonition", stripped))
                continue
        if not stripped:
            flush()
            continue
        if re.match(r"^(!!!|\?\?\?)", stripped):
            flush()
            admonition_indent = indent
            out.append(Block(page, number + 1, "admonition", stripped))
            continue
        if stripped.startswith("#"):
            flush()
            out.append(Block(page, number + 1, "heading", stripped))
            continue
        if stripped.startswith("|"):
            flush()
            out.append(Block(page, number + 1, "table", stripped))
            continue
        if stripped.startswith("<!--"):
            continue
        if LIST_MARKER.match(line):
            flush()
            start, kind = number, "item"
            current = [LIST_MARKER.sub("", line, count=1)]
            continue
        if not current:
            start, kind = number, "paragraph"
        current.append(stripped)
    flush()
    return out


def _title(source: str, page: str) -> str:
    for line in source.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return page


def _plain(text: str) -> str:
    text = TAG.sub("", text, count=1)
    text = re.sub(r"\{[^}]*#[^}]*\}", "", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = text.replace("**", "")
    return " ".join(text.split())


def extract(spec_dir: Path = SPEC) -> tuple[list[Requirement], list[str]]:
    """Return the requirements and the list of problems found in ``spec_dir``."""
    requirements: list[Requirement] = []
    problems: list[str] = []
    seen: dict[str, str] = {}
    for path in sorted(spec_dir.rglob("*.md")):
        page = path.relative_to(spec_dir).as_posix()
        if page in GENERATED:
            continue
        source = path.read_text("utf-8")
        title = _title(source, page)
        for block in blocks_of(page, source):
            where = f"{page}:{block.line}"
            keywords = KEYWORD.findall(_strip_code(TAG.sub("", block.text)))
            tags = ANY_ID_TAG.findall(block.text)
            if block.kind in {"heading", "table", "admonition"}:
                if keywords:
                    problems.append(f"{where}: normative keyword {keywords[0]!r} in a {block.kind}")
                if tags:
                    problems.append(f"{where}: requirement tag in a {block.kind}")
                continue
            if block.text.startswith(BOILERPLATE):
                continue
            if not tags:
                if keywords:
                    problems.append(
                        f"{where}: normative keyword {keywords[0]!r} without a requirement ID"
                    )
                continue
            if len(tags) > 1:
                problems.append(f"{where}: {len(tags)} requirement tags in one block")
                continue
            match = TAG.match(block.text)
            if not match:
                problems.append(f"{where}: requirement tag {tags[0]} is malformed or not first")
                continue
            if match.group(1) != match.group(2):
                problems.append(f"{where}: tag {match.group(1)} has anchor #{match.group(2)}")
                continue
            req_id = match.group(1)
            if not keywords:
                problems.append(f"{where}: {req_id} has no normative keyword")
                continue
            if req_id in seen:
                problems.append(f"{where}: duplicate {req_id} (first at {seen[req_id]})")
                continue
            seen[req_id] = where
            level = min((LEVEL_OF[k] for k in keywords), key=RANK.__getitem__)
            requirements.append(
                Requirement(req_id, level, page, title, block.line, _plain(block.text))
            )
    requirements.sort(key=lambda r: r.id)
    return requirements, problems


def render_markdown(requirements: list[Requirement]) -> str:
    lines = [
        "# Requirements index",
        "",
        "<!-- Generated by tools/reqindex.py from the spec pages. Do not edit. -->",
        "",
        f"Every requirement of MCP-Auth {SPEC_VERSION}, by ID. "
        f"{len(requirements)} requirements: "
        + ", ".join(
            f"{sum(r.level == level for r in requirements)} {level}"
            for level in ("MUST", "SHOULD", "MAY")
        )
        + ". The level is the strongest keyword in the statement.",
        "",
    ]
    area = ""
    for req in requirements:
        this_area = req.id.split("-")[1]
        if this_area != area:
            area = this_area
            lines += ["", f"## {area}", "", "| ID | Level | Chapter | Statement |"]
            lines.append("| --- | --- | --- | --- |")
        text = req.text.replace("|", "\\|")
        lines.append(f"| [{req.id}]({req.page}#{req.id}) | {req.level} | {req.title} | {text} |")
    lines.append("")
    return "\n".join(lines)


def render_json(requirements: list[Requirement]) -> str:
    doc = {
        "spec_version": SPEC_VERSION,
        "requirements": [
            {
                "id": r.id,
                "level": r.level,
                "page": r.page,
                "anchor_url": r.anchor_url,
                "text": r.text,
            }
            for r in requirements
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if outputs are stale")
    args = parser.parse_args(argv)
    requirements, problems = extract()
    for problem in problems:
        print(f"reqindex: {problem}", file=sys.stderr)
    outputs = {INDEX_MD: render_markdown(requirements), INDEX_JSON: render_json(requirements)}
    stale = [p for p, text in outputs.items() if not p.exists() or p.read_text("utf-8") != text]
    if args.check:
        for path in stale:
            print(
                f"reqindex: {path.relative_to(ROOT)} is stale; run python tools/reqindex.py",
                file=sys.stderr,
            )
    else:
        for path in stale:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(outputs[path], "utf-8")
            print(f"reqindex: wrote {path.relative_to(ROOT)}")
    print(f"reqindex: {len(requirements)} requirements, {len(problems)} problems")
    return 1 if problems or (args.check and stale) else 0


if __name__ == "__main__":
    raise SystemExit(main())
