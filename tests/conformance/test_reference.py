"""The suite against the bundled reference, through the CLI: 100% pass.

Run with the quick profile and with the default profile under several seeds, so that a
flaky check or a reference defect that only some generated inputs reach shows up here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest

from mcp_auth import __version__, schemas

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.mark.parametrize(
    ("profile", "seed"), [("quick", 0), ("default", 1), ("default", 2), ("default", 3)]
)
def test_reference_passes_every_check(tmp_path, profile, seed):
    out = tmp_path / "report"
    start = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mcp_auth",
            "conformance",
            "run",
            "--profile",
            profile,
            "--seed",
            str(seed),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        cwd=tmp_path,
    )
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    data = json.loads((out / "report.json").read_text())
    schemas.validate("conformance-report", data)
    bad = [(c["id"], c.get("reason")) for c in data["checks"] if c["outcome"] != "pass"]
    assert not bad
    assert data["classes"] == {"Issuer": "passed", "Verifier": "passed"}
    assert len(data["checks"]) > 60
    ET.parse(out / "junit.xml")  # noqa: S314 - our own output
    badge = json.loads((out / "badge.json").read_text())
    assert badge["message"] == f"Issuer · Verifier (suite {data['suite_version']})"
    assert data["suite_version"] == __version__
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert f"{len(data['checks'])} passed, 0 failed, 0 warned, 0 skipped" in proc.stdout
    assert data["profile"] == profile
    assert data["seed"] == seed
    # Informational: quick is meant to stay within 10 s and default within 60 s here.
    print(f"{profile} profile, seed {seed}, against the reference: {elapsed:.1f} s")
