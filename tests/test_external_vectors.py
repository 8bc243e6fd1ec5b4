"""The vendored test vectors: the default, complete, licensed, and a missing file fails loudly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import external_vectors as vectors

ROOT = Path(__file__).resolve().parent.parent


def test_default_is_the_vendored_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(vectors.ENV, raising=False)
    assert vectors.root() == ROOT / "tests" / "vectors"
    assert vectors.read_json("wycheproof", "json_web_signature_test.json")["numberOfTests"] > 0


def test_override_is_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "wycheproof").mkdir()
    (tmp_path / "wycheproof" / "KNOWN_ISSUES.md").write_text("override")
    monkeypatch.setenv(vectors.ENV, str(tmp_path))
    assert vectors.read_text("wycheproof", "KNOWN_ISSUES.md") == "override"


@pytest.mark.parametrize("source", ["wycheproof", "jose-cookbook"])
def test_each_source_has_license_and_source_note(source: str) -> None:
    folder = vectors.VENDORED / source
    assert (folder / "LICENSE").stat().st_size > 0
    note = (folder / "SOURCE.md").read_text("utf-8")
    assert "Commit:" in note
    assert "License:" in note
    for path in folder.rglob("*.json"):
        assert path.name in note, f"{path} is not listed in {folder / 'SOURCE.md'}"


def _pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, vectors.ENV: str(tmp_path / "no-such-folder")}
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_missing_override_fails_the_tests_not_the_collection(tmp_path: Path) -> None:
    # Regression: the vectors were read at import time inside @pytest.mark.parametrize from
    # ../shared/vectors, so a clone without that folder had a collection error and ran nothing.
    files = ["tests/reference/test_jose.py", "tests/conformance/test_jose.py"]
    collected = _pytest(tmp_path, "--collect-only", "-q", *files)
    assert collected.returncode == 0, collected.stdout + collected.stderr
    assert "test_wycheproof_jws[vector-file-missing]" in collected.stdout

    ran = _pytest(
        tmp_path,
        "-q",
        "tests/reference/test_jose.py::test_wycheproof_jws",
        "tests/reference/test_jose.py::test_jose_cookbook_signatures_verify",
        "tests/reference/test_jose.py::test_wycheproof_override_reasons_are_documented",
        "tests/conformance/test_jose.py::test_wycheproof_es256_p1363_vectors",
    )
    out = ran.stdout + ran.stderr
    assert ran.returncode == 1, out
    assert "skipped" not in out
    assert "no-such-folder" in out
    assert f"unset {vectors.ENV}" in out
    # The two parametrized tests fail at set-up (their placeholder), the others in the body.
    assert "2 failed, 2 errors" in out, out
