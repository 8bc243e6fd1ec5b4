"""tools/check_schemas.py passes on the tree and names a broken example."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "check_schemas", ROOT / "tools" / "check_schemas.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_passes_on_the_tree(capsys: pytest.CaptureFixture[str]) -> None:
    assert tool().main() == 0
    assert "0 problems" in capsys.readouterr().out


def test_names_a_valid_example_that_fails(tmp_path: Path) -> None:
    module = tool()
    module.ROOT = tmp_path
    folder = tmp_path / "grant"
    folder.mkdir()
    bad = folder / "valid-broken.json"
    bad.write_text(json.dumps({"grant_id": 7}, indent=2) + "\n", "utf-8")
    problems = module.check_example("grant", bad)
    assert problems and "grant/valid-broken.json: should be valid" in problems[0]


def test_names_an_invalid_example_that_validates(tmp_path: Path) -> None:
    module = tool()
    module.ROOT = tmp_path
    folder = tmp_path / "error-response"
    folder.mkdir()
    bad = folder / "invalid-nothing.json"
    bad.write_text(json.dumps({"error": "invalid_grant"}, indent=2) + "\n", "utf-8")
    assert module.check_example("error-response", bad) == [
        "error-response/invalid-nothing.json: should be invalid but validates"
    ]
