"""The suite against the bundled reference, through the CLI: 100% pass (quick profile)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest

from mcp_auth import schemas

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_reference_passes_every_check(tmp_path):
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
            "quick",
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
    assert badge["message"] == "Issuer · Verifier"
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert f"{len(data['checks'])} passed, 0 failed, 0 warned, 0 skipped" in proc.stdout
    # Informational: the quick profile is meant to stay within 10 s on a 2-core machine.
    print(f"quick profile against the reference: {elapsed:.1f} s")
