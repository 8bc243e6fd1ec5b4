"""The import-contract checker must catch every way the suite could import the reference."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_imports", ROOT / "tools/check_imports.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_imports"] = module
    spec.loader.exec_module(module)
    return module


check_imports = _load()


@pytest.mark.parametrize(
    "source",
    [
        "import mcp_auth.reference",
        "import mcp_auth.reference.verifier as v",
        "from mcp_auth.reference import jose",
        "from mcp_auth import reference",
        "from mcp_auth import cli",
        "from ...reference import jose",
        "from ... import reference",
        "import importlib\nimportlib.import_module('mcp_auth.reference.dpop')",
        "__import__('mcp_auth.reference')",
    ],
)
def test_static_check_flags_reference_imports(tmp_path: Path, source: str) -> None:
    folder = tmp_path / "conformance"
    (folder / "checks").mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "checks" / "__init__.py").write_text("")
    (folder / "checks" / "bad.py").write_text(source + "\n")
    found = check_imports.static_violations(folder)
    assert len(found) == 1, found
    assert "bad.py:" in found[0]


@pytest.mark.parametrize(
    "source",
    [
        "import mcp_auth",
        "from mcp_auth import schemas",
        "from . import oracle",
        "from ..conformance import report",
        "import mcp_auth.referenceish",
    ],
)
def test_static_check_allows_other_imports(tmp_path: Path, source: str) -> None:
    folder = tmp_path / "conformance"
    (folder / "checks").mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "checks" / "__init__.py").write_text("")
    (folder / "checks" / "ok.py").write_text(source + "\n")
    assert check_imports.static_violations(folder) == []


def test_the_real_suite_honours_the_contract() -> None:
    assert check_imports.static_violations() == []
    assert check_imports.dynamic_violations() == []
