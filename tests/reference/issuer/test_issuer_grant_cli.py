"""``mcp-auth grant request`` against a real ``mcp-auth serve``, through the console script.

The agent's grant is pending and shows up where the user decides; ``--wait`` reports the
user's decision; mistakes (unknown client, a tool instead of an agent, a bad resource, no
key, no issuer) are one line on stderr, exit 1, no traceback.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from mcp_auth.reference.issuer.demo_consent import decide_on_consent_page
from tests.loopback import free_port, stop_group
from tests.loopback import mcp_auth_command as command

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

HOST = "127.0.0.1"


def mcp_auth(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command(), *args], capture_output=True, text=True, timeout=60, check=False
    )


@dataclass
class Issuer:
    url: str
    data_dir: Path
    password: str
    state: dict[str, Any]
    proc: subprocess.Popen[bytes]

    def admin_get(self, path: str) -> dict[str, Any]:
        token = (self.data_dir / "admin-token").read_text().strip()
        response = httpx.get(
            self.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def stop(self) -> None:
        stop_group(self.proc, grace=10)


@pytest.fixture
def issuer(tmp_path: Path) -> Iterator[Issuer]:
    port = free_port()
    url = f"http://{HOST}:{port}"
    data_dir = tmp_path / "data"
    seeded = mcp_auth("demo", "seed", "--data-dir", str(data_dir), "--issuer-url", url)
    assert seeded.returncode == 0, seeded.stderr
    password = re.search(r"password: (\S+)", seeded.stdout)
    assert password
    state = json.loads((data_dir / "demo" / "demo.json").read_text())
    with (tmp_path / "serve.log").open("wb") as log:
        proc = subprocess.Popen(
            [*command(), "serve", "--data-dir", str(data_dir), "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Issuer(url, data_dir, password.group(1), state, proc)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"{url}/.well-known/oauth-authorization-server").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the issuer did not start"
            time.sleep(0.1)
        yield running
    finally:
        running.stop()


def _request(issuer: Issuer, *extra: str, client_id: str = "demo-agent") -> list[str]:
    tool = issuer.state["tools"][0]
    return [
        "grant",
        "request",
        "--data-dir",
        str(issuer.data_dir),
        "--client-id",
        client_id,
        "--sub",
        "alice",
        "--resource",
        tool["resource"],
        "--resource",
        issuer.state["resource"]["resource"],
        "--scope",
        "files:read data:read",
        "--tool",
        tool["client_id"],
        "--purpose",
        "Read my files",
        *extra,
    ]


def _one_line_error(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for word in words:
        assert word in lines[0]


def test_grant_request_is_pending_until_the_user_decides(issuer: Issuer) -> None:
    done = mcp_auth(*_request(issuer, "--expires-in", "3600"))
    assert done.returncode == 0, done.stderr
    found = re.search(r"grant requested: (\S+) \(pending\)", done.stdout)
    assert found, done.stdout
    grant_id = found.group(1)
    approval = f"{issuer.url}/consent/grants/{grant_id}"
    assert approval in done.stdout
    grant = issuer.admin_get(f"/grants/{grant_id}")
    assert grant["status"] == "pending"
    assert grant["client_id"] == "demo-agent" and grant["sub"] == "alice"
    assert grant["scopes"] == ["files:read", "data:read"]
    assert grant["tools"] == ["demo-tool-1"]
    assert grant["models"] == ["demo-model"]  # the seeded demo's model by default
    assert grant["purpose"] == "Read my files"
    assert grant["expires_at"] - grant["created_at"] == 3600
    assert grant["approval_uri"] == approval
    # The user approves it on the consent page: the agent's grant is now active.
    decide_on_consent_page(approval, "alice", issuer.password)
    assert issuer.admin_get(f"/grants/{grant_id}")["status"] == "active"


def test_grant_request_wait_reports_a_denial(issuer: Issuer) -> None:
    waiting = subprocess.Popen(
        [*command(), *_request(issuer, "--wait", "--timeout", "60")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert waiting.stdout is not None and waiting.stderr is not None
        lines = [waiting.stdout.readline()]
        found = re.search(r"grant requested: (\S+) \(pending\)", lines[0])
        assert found, lines[0]
        while lines[-1] and not lines[-1].startswith("waiting for"):
            lines.append(waiting.stdout.readline())
        decide_on_consent_page(
            f"{issuer.url}/consent/grants/{found.group(1)}", "alice", issuer.password, "deny"
        )
        out = "".join(lines) + waiting.stdout.read()  # to the end: --timeout bounds it
        waiting.wait(timeout=60)
        err = waiting.stderr.read()
    finally:
        if waiting.poll() is None:
            waiting.kill()
        waiting.communicate(timeout=10)
    assert waiting.returncode == 1, err
    assert "waiting for alice to decide" in out
    assert "the grant is now denied" in out
    assert "Traceback" not in out + err


def test_grant_request_mistakes_are_one_line(issuer: Issuer, tmp_path: Path) -> None:
    agent_key = issuer.state["agent"]["private_jwk_file"]
    tool_key = issuer.state["tools"][0]["private_jwk_file"]
    unknown = mcp_auth(*_request(issuer, "--key", agent_key, client_id="nobody"))
    _one_line_error(unknown, "invalid_client", "'nobody'")
    not_an_agent = mcp_auth(*_request(issuer, "--key", tool_key, client_id="demo-tool-1"))
    _one_line_error(not_an_agent, "not an agent client")
    bad = mcp_auth(*_request(issuer, "--resource", "ftp://example.com/x"))
    _one_line_error(bad, "invalid_request", "resources")
    no_key = mcp_auth(*_request(issuer, client_id="nobody"))
    _one_line_error(no_key, "no private key for 'nobody'", "--key")
    no_dir = [*_request(issuer)]
    no_dir[no_dir.index("--data-dir") + 1] = str(tmp_path / "no-such-dir")
    _one_line_error(mcp_auth(*no_dir), "no private key")
    assert not (tmp_path / "no-such-dir").exists()  # nothing created
    issuer.stop()
    _one_line_error(mcp_auth(*_request(issuer)), "cannot reach the issuer", issuer.url)
