"""tools/check_dist.py must notice a package-data file missing from the wheel.

The wheels here are written by hand from the tree (no build: that is `.ci/run`'s step), so
each test says exactly what the archive lacks.
"""

from __future__ import annotations

import importlib.util
import sys
import tomllib
import zipfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_dist", ROOT / "tools/check_dist.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_dist"] = module
    spec.loader.exec_module(module)
    return module


check_dist = _load()
NAME = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["name"]
VERSION = check_dist._version()
INFO = f"{NAME.replace('-', '_')}-{VERSION}.dist-info"


def _wheel(tmp_path: Path, drop: str | None = None, extra: str | None = None) -> Path:
    path = tmp_path / f"{NAME.replace('-', '_')}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name in check_dist.expected_wheel_files():
            if name != drop:
                zf.writestr(name, b"")
        if extra:
            zf.writestr(extra, b"{}")
        zf.writestr(
            f"{INFO}/METADATA",
            f"Metadata-Version: 2.4\nName: {NAME}\nVersion: {VERSION}\n"
            "License-Expression: Apache-2.0\n",
        )
        zf.writestr(f"{INFO}/entry_points.txt", "[console_scripts]\nmcp-auth = mcp_auth.cli:main\n")
        zf.writestr(f"{INFO}/licenses/LICENSE", "Apache License")
    return path


def test_every_runtime_data_file_is_expected() -> None:
    expected = check_dist.expected_wheel_files()
    for name in (
        "mcp_auth/conformance/data/requirements.json",
        "mcp_auth/schemas/conformance-report.schema.json",
        "mcp_auth/py.typed",
        "mcp_auth/cli.py",
    ):
        assert name in expected
    assert not any(n.startswith("mcp_auth/schemas/examples/") for n in expected)


def test_complete_wheel_passes(tmp_path: Path) -> None:
    assert check_dist.check_wheel(_wheel(tmp_path), NAME, VERSION) == []


def test_missing_requirement_catalog_fails(tmp_path: Path) -> None:
    # The defect this catches: conformance/data/ is no package, and a "*.json" pattern
    # left the catalog out of the wheel (report.html then had no requirement texts).
    missing = "mcp_auth/conformance/data/requirements.json"
    problems = check_dist.check_wheel(_wheel(tmp_path, drop=missing), NAME, VERSION)
    assert problems == [f"{NAME.replace('-', '_')}-{VERSION}-py3-none-any.whl: missing {missing}"]


def test_shipped_test_data_fails(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path, extra="mcp_auth/schemas/examples/grant/valid-active.json")
    problems = check_dist.check_wheel(wheel, NAME, VERSION)
    assert len(problems) == 1 and "mcp_auth/schemas/examples/" in problems[0]
