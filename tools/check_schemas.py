"""Check the JSON Schemas and their example files.

For every schema in ``schemas/``: it is a valid draft 2020-12 schema and its ``$id`` matches
its file name. For every example in ``schemas/examples/<name>/``: the folder names an
existing schema, the file is called ``valid[-<slug>].json`` or ``invalid-<slug>.json`` and
is pretty-printed with a 2-space indent, ``valid`` ones validate and ``invalid`` ones do not;
each schema has at least one valid and two invalid examples. Valid audit events must carry
the correct ``hash`` (CONTRACT.md section 5).

Usage: ``python tools/check_schemas.py`` (exit status 1 and one line per problem on failure)
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, best_match

from mcp_auth import schemas

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "schemas" / "examples"
EXAMPLE_NAME = re.compile(r"^(valid(-[a-z0-9]+)*|invalid(-[a-z0-9]+)+)\.json$")


def audit_hash(event: dict[str, Any]) -> str:
    """CONTRACT.md section 5: SHA-256 over the canonical JSON of the event without ``hash``."""
    body = {k: v for k, v in event.items() if k != "hash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_schemas() -> list[str]:
    problems: list[str] = []
    for name in schemas.names():
        schema = schemas.load(name)
        where = f"schemas/{name}.schema.json"
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            problems.append(f"{where}: not a valid 2020-12 schema: {exc.message}")
        if schema.get("$id") != f"{schemas.BASE_URI}{name}.schema.json":
            problems.append(f"{where}: $id {schema.get('$id')!r} does not match the file name")
    return problems


def check_example(name: str, path: Path) -> list[str]:
    where = path.relative_to(ROOT).as_posix()
    if not EXAMPLE_NAME.match(path.name):
        return [f"{where}: name must be valid[-slug].json or invalid-<slug>.json"]
    text = path.read_text("utf-8")
    try:
        instance = json.loads(text)
    except ValueError as exc:
        return [f"{where}: not JSON: {exc}"]
    problems: list[str] = []
    if text != json.dumps(instance, indent=2, ensure_ascii=False) + "\n":
        problems.append(f"{where}: not pretty-printed (2-space indent, trailing newline)")
    error = best_match(schemas.validator(name).iter_errors(instance))
    if path.name.startswith("valid"):
        if error is not None:
            problems.append(f"{where}: should be valid but {error.json_path}: {error.message}")
        elif name == "audit-event" and instance.get("hash") != audit_hash(instance):
            problems.append(f"{where}: hash is not the SHA-256 of the canonical event")
    elif error is None:
        problems.append(f"{where}: should be invalid but validates")
    return problems


def check_examples() -> list[str]:
    problems: list[str] = []
    known = set(schemas.names())
    folders = {p.name: p for p in EXAMPLES.iterdir() if p.is_dir()} if EXAMPLES.is_dir() else {}
    for folder in sorted(set(folders) - known):
        problems.append(f"schemas/examples/{folder}/: no schema named {folder!r}")
    for name in sorted(known):
        files = sorted(folders[name].glob("*.json")) if name in folders else []
        valid = [p for p in files if p.name.startswith("valid")]
        invalid = [p for p in files if p.name.startswith("invalid")]
        if len(valid) < 1 or len(invalid) < 2:
            problems.append(
                f"schemas/examples/{name}/: needs >= 1 valid and >= 2 invalid examples, "
                f"has {len(valid)} and {len(invalid)}"
            )
        if name in folders:
            stray = sorted(p.name for p in folders[name].iterdir() if p.suffix != ".json")
            problems.extend(f"schemas/examples/{name}/{s}: not a .json example" for s in stray)
        for path in files:
            problems.extend(check_example(name, path))
    return problems


def main() -> int:
    problems = check_schemas() + check_examples()
    for problem in problems:
        print(f"check_schemas: {problem}", file=sys.stderr)
    count = sum(1 for _ in EXAMPLES.rglob("*.json")) if EXAMPLES.is_dir() else 0
    print(
        f"check_schemas: {len(schemas.names())} schemas, {count} examples, {len(problems)} problems"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
