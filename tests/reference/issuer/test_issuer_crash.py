"""Durability: kill -9 a real `serve` process mid-load; everything acknowledged survives.

A real issuer subprocess on a free 127.0.0.1 port, four client threads creating grants,
getting tokens and revoking grants; the process is killed with SIGKILL while they run.
After a restart every grant, revocation and issuance that got a success response is
there (with its audit event) and the audit chain verifies.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mcp_auth.reference.issuer import demo
from mcp_auth.reference.issuer.audit import verify_chain
from mcp_auth.reference.issuer.client import IssuerClient, load_private_jwk
from mcp_auth.reference.issuer.settings import Settings
from mcp_auth.reference.issuer.storage import Database
from tests.loopback import free_port

pytestmark = pytest.mark.slow


def start(data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    url = f"http://127.0.0.1:{port}"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mcp_auth.reference.issuer",
                "serve",
                "--data-dir",
                str(data_dir),
                "--port",
                str(port),
                "--issuer-url",
                url,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"issuer exited early:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/jwks", timeout=0.5).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("issuer did not start")


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def test_acknowledged_writes_survive_kill_9(
    tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    state = demo.seed(Settings(data_dir=data_dir, issuer_url=url))
    admin = {"Authorization": "Bearer " + (data_dir / "admin-token").read_text().strip()}
    grant_body = {
        "sub": "alice",
        "client_id": "demo-agent",
        "resources": [demo.DEMO_TOOLS[0][1]],
        "scopes": ["files:read"],
        "tools": [],
        "models": [demo.DEMO_MODEL],
    }
    log = tmp_path / "server.log"
    procs.append(start(data_dir, port, log))

    acked_grants: list[str] = []
    acked_revocations: list[str] = []
    acked_tokens: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    agent_jwk = load_private_jwk(state["agent"]["private_jwk_file"])

    def worker() -> None:
        with httpx.Client(base_url=url, timeout=5) as http:
            agent = IssuerClient(url, "demo-agent", agent_jwk, http=http)
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    created = http.post("/grants", json=grant_body, headers=admin)
                    if created.status_code != 201:
                        continue
                    gid = created.json()["grant_id"]
                    with lock:
                        acked_grants.append(gid)
                    tok = agent.issue(gid, demo.DEMO_TOOLS[0][1], demo.DEMO_MODEL)
                    jti = json.loads(_b64(tok.access_token.split(".")[1]))["jti"]
                    with lock:
                        acked_tokens.append(jti)
                    if (
                        n % 2 == 0
                        and http.delete(f"/grants/{gid}", headers=admin).status_code == 204
                    ):
                        with lock:
                            acked_revocations.append(gid)
                except (httpx.HTTPError, OSError):
                    return  # the server is gone

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(2.0)
    os.kill(procs[0].pid, signal.SIGKILL)  # mid-load, no shutdown of any kind
    procs[0].wait(timeout=10)
    for thread in threads:
        thread.join(timeout=10)
    stop.set()
    assert len(acked_grants) > 5 and acked_revocations and acked_tokens
    print(
        f"acknowledged before kill -9: {len(acked_grants)} grants, {len(acked_tokens)} "
        f"tokens, {len(acked_revocations)} revocations"
    )

    procs.append(start(data_dir, port, log))
    with httpx.Client(base_url=url, timeout=5) as http:
        for gid in acked_grants:
            response = http.get(f"/grants/{gid}", headers=admin)
            assert response.status_code == 200, gid
            expected = "revoked" if gid in acked_revocations else None
            if expected:
                assert response.json()["status"] == "revoked"
        # The service keeps working after the crash.
        assert http.post("/grants", json=grant_body, headers=admin).status_code == 201
    procs[1].send_signal(signal.SIGTERM)
    procs[1].wait(timeout=10)

    db = Database(data_dir / "issuer.sqlite3")
    report = verify_chain(db)
    assert report.ok, report
    events = [json.loads(r["event"]) for r in db.query("SELECT event FROM audit")]
    issued = {e["token_jti"] for e in events if e["type"] == "token.issued"}
    revoked = {e["grant_id"] for e in events if e["type"] == "grant.revoked"}
    created = {e["grant_id"] for e in events if e["type"] == "grant.created"}
    assert set(acked_tokens) <= issued
    assert set(acked_revocations) <= revoked
    assert set(acked_grants) <= created
    rows = db.query("SELECT jti FROM tokens")
    assert set(acked_tokens) <= {r["jti"] for r in rows}
    db.close()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mcp_auth.reference.issuer",
            "audit",
            "verify",
            "--data-dir",
            str(data_dir),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _b64(segment: str) -> bytes:
    from mcp_auth.reference.jose import b64url_decode

    return b64url_decode(segment)
