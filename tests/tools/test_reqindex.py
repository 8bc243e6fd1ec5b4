"""The requirement-ID checker: every normative statement has exactly one unique ID."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reqindex", ROOT / "tools/reqindex.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["reqindex"] = module
    spec.loader.exec_module(module)
    return module


reqindex = _load()

# Built, not written out, so that tools/check_coverage.py does not see an unknown ID here.
BAD_ID = "-".join(["MCPA", "FOO", "001"])


def run(tmp_path: Path, text: str) -> tuple[list, list[str]]:
    (tmp_path / "page.md").write_text(text)
    reqs, problems = reqindex.extract(tmp_path)
    return reqs, problems


def test_tagged_items_and_paragraphs_are_extracted_with_their_level(tmp_path: Path) -> None:
    reqs, problems = run(
        tmp_path,
        "# Page\n\n"
        "**MCPA-VER-001**{ #MCPA-VER-001 } The verifier MUST stop.\n\n"
        "- **MCPA-VER-002**{ #MCPA-VER-002 } It SHOULD log and MAY retry.\n"
        "- **MCPA-VER-003**{ #MCPA-VER-003 } It MAY cache\n  across lines.\n",
    )
    assert problems == []
    assert [(r.id, r.level) for r in reqs] == [
        ("MCPA-VER-001", "MUST"),
        ("MCPA-VER-002", "SHOULD"),
        ("MCPA-VER-003", "MAY"),
    ]
    assert reqs[2].text == "It MAY cache across lines."
    assert reqs[0].anchor_url == "page/#MCPA-VER-001"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The issuer MUST refuse.\n", "without a requirement ID"),
        ("- The issuer SHOULD NOT log tokens.\n", "without a requirement ID"),
        ("Refuse it. **MCPA-ISS-001**{ #MCPA-ISS-001 } It MUST.\n", "not first"),
        ("**MCPA-ISS-001**{ #MCPA-ISS-002 } It MUST.\n", "has anchor"),
        ("**MCPA-ISS-001**{ #MCPA-ISS-001 } It refuses.\n", "no normative keyword"),
        (
            "**MCPA-ISS-001**{ #MCPA-ISS-001 } A MUST; **MCPA-ISS-002**{ #MCPA-ISS-002 } B.\n",
            "2 requirement tags",
        ),
        ("| a | b |\n| - | - |\n| x | MUST |\n", "in a table"),
        ("## It MUST\n", "in a heading"),
        ("!!! note\n    Clients MAY retry.\n", "in a admonition"),
        (f"**{BAD_ID}**{{ #{BAD_ID} }} It MUST.\n", "malformed"),
    ],
)
def test_problems_are_reported(tmp_path: Path, text: str, expected: str) -> None:
    _, problems = run(tmp_path, text)
    assert problems, "expected a problem"
    assert expected in problems[0]


def test_duplicate_ids_are_reported(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("**MCPA-TOK-001**{ #MCPA-TOK-001 } One MUST.\n")
    (tmp_path / "b.md").write_text("**MCPA-TOK-001**{ #MCPA-TOK-001 } Two MUST.\n")
    reqs, problems = reqindex.extract(tmp_path)
    assert len(reqs) == 1
    assert problems == ["b.md:1: duplicate MCPA-TOK-001 (first at a.md:1)"]


def test_code_boilerplate_and_lowercase_are_not_normative(tmp_path: Path) -> None:
    reqs, problems = run(
        tmp_path,
        'The key words "MUST", "MUST NOT" and "MAY" in this document are to be '
        "interpreted as described in BCP 14.\n\n"
        "```http\nHTTP/1.1 401 MUST\n```\n\n"
        "Use `MUST` in code spans, and must in lower case, freely. MUSTARD is fine.\n",
    )
    assert (reqs, problems) == ([], [])


def test_outputs_render(tmp_path: Path) -> None:
    reqs, _ = run(tmp_path, "# T\n\n- **MCPA-GEN-001**{ #MCPA-GEN-001 } A | B MUST hold.\n")
    markdown = reqindex.render_markdown(reqs)
    assert "| [MCPA-GEN-001](page.md#MCPA-GEN-001) | MUST | T | A \\| B MUST hold. |" in markdown
    doc = json.loads(reqindex.render_json(reqs))
    assert doc["requirements"][0]["id"] == "MCPA-GEN-001"


def test_the_spec_has_no_problems_and_its_index_is_fresh() -> None:
    reqs, problems = reqindex.extract()
    assert problems == []
    assert reqs, "the spec defines requirements"
    assert reqindex.INDEX_MD.read_text("utf-8") == reqindex.render_markdown(reqs)
    assert reqindex.INDEX_JSON.read_text("utf-8") == reqindex.render_json(reqs)
