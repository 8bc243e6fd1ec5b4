"""The bundled reference as subprocesses (never by import): ``mcp-auth demo seed`` and
``mcp-auth serve`` for the Issuer class, ``mcp-auth resource-server`` for the Verifier class,
on free loopback ports; :class:`Processes` stops them all.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from mcp_auth.conformance import verifier as verifier_checks
from mcp_auth.conformance.config import VerifierConfig

REFERENCE_SCOPE = "data:read"


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "mcp_auth", *args]


def wait_http(url: str, proc: subprocess.Popen[bytes] | None, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(
                f"{what} exited with status {proc.returncode} before answering {url}"
            )
        try:
            resp = httpx.get(url, timeout=2)
            if resp.status_code == 200:
                return
            last = f"HTTP {resp.status_code}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not answer {url} within {timeout:.0f} s ({last})")


@dataclass
class Processes:
    """Child processes the suite started; all stopped on exit."""

    procs: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def start(self, name: str, args: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
        fh = log.open("wb")
        proc = subprocess.Popen(
            args, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=_child_env()
        )
        fh.close()
        self.procs.append((name, proc))
        self.logs.append(log)
        return proc

    def stop(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for _, proc in reversed(self.procs):
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self.procs.clear()


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def seed_reference(tmp: Path, port: int) -> Path:
    target = tmp / "target.toml"
    cmd = _cli(
        "demo",
        "seed",
        "--data-dir",
        str(tmp / "issuer"),
        "--issuer-url",
        f"http://127.0.0.1:{port}",
        "--write-target",
        str(target),
    )
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=60, env=_child_env(), check=False
    )
    if proc.returncode != 0 or not target.exists():
        raise RuntimeError(
            f"`{' '.join(cmd[2:])}` failed ({proc.returncode}): "
            f"{(proc.stderr or proc.stdout).strip()[-800:]}"
        )
    return target


def start_reference_issuer(procs: Processes, tmp: Path, port: int) -> None:
    url = f"http://127.0.0.1:{port}"
    proc = procs.start(
        "issuer",
        _cli("serve", "--data-dir", str(tmp / "issuer"), "--port", str(port), "--issuer-url", url),
        tmp / "issuer.log",
    )
    wait_http(url + "/.well-known/oauth-authorization-server", proc, 30, "mcp-auth serve")


def start_reference_verifier(
    procs: Processes, tmp: Path, issuer_url: str, port: int
) -> VerifierConfig:
    resource = f"http://127.0.0.1:{port}"
    proc = procs.start(
        "resource-server",
        _cli(
            "resource-server",
            "--issuer",
            issuer_url,
            "--resource",
            resource,
            "--scope",
            REFERENCE_SCOPE,
            "--port",
            str(port),
        ),
        tmp / "resource-server.log",
    )
    wait_http(verifier_checks.resource_metadata_url(resource), proc, 30, "mcp-auth resource-server")
    return VerifierConfig(
        resource=resource,
        url=resource + "/data",
        method="POST",
        required_scope=REFERENCE_SCOPE,
        issuer_port=0,
    )
