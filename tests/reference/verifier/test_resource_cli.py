"""``mcp-auth resource-server``: the app in-process, and the real command under uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from mcp_auth.reference.resource_cli import build_app
from mcp_auth.reference.verifier import Verifier
from tests.loopback import free_port as _free_port
from tests.reference.verifier.helpers import FakeIssuerState, MiniIssuer, fake_issuer_app


def test_build_app_in_process() -> None:
    mini = MiniIssuer(resource="https://rs.example/data")
    state = FakeIssuerState(mini)
    state.clock[0] = time.time()
    settings = mini.settings(required_scopes=frozenset({"files:read"}))

    async def main() -> None:
        issuer_client = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake_issuer_app(state)))
        verifier = Verifier(settings, http_client=issuer_client)
        app = build_app(settings, path="/data", verifier=verifier)
        transport = httpx.ASGITransport(app=app)
        now = int(time.time())
        token = mini.token(mini.claims(2, iat=now, exp=now + 120))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="https://rs.example") as c:
                response = await c.post(
                    "/data",
                    headers={
                        "Authorization": f"DPoP {token}",
                        "DPoP": mini.proof(token, method="POST", iat=now),
                    },
                )
                assert response.status_code == 200, response.text
                body = response.json()
                assert body["ok"] is True and body["method"] == "POST"
                assert body["principal"]["client_id"] == "tool-1"
                assert body["principal"]["chain"] == [
                    {"actor_type": "agent", "sub": "agent-1", "mcpa_model": "model-x"},
                    {"actor_type": "tool", "sub": "tool-1"},
                ]
                meta = await c.get("/.well-known/oauth-protected-resource/data")
                assert meta.json()["resource"] == "https://rs.example/data"
                assert (await c.get("/data")).status_code == 401
        finally:
            await issuer_client.aclose()

    asyncio.run(main())


@contextlib.contextmanager
def _serve(app: Any) -> Iterator[int]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline:  # pragma: no cover
                raise RuntimeError("issuer did not start")
            time.sleep(0.02)
        port: int = server.servers[0].sockets[0].getsockname()[1]
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_resource_server_command_end_to_end() -> None:
    state = FakeIssuerState(MiniIssuer())
    state.clock[0] = time.time()
    with _serve(fake_issuer_app(state)) as issuer_port:
        issuer = f"http://127.0.0.1:{issuer_port}"
        port = _free_port()
        resource = f"http://127.0.0.1:{port}/data"
        mini = MiniIssuer(issuer=issuer, resource=resource, keys=state.mini.keys)
        state.mini = mini
        cmd = [
            sys.executable, "-m", "mcp_auth", "resource-server", "--issuer", issuer,
            "--resource", resource, "--scope", "files:read", "--port", str(port),
        ]  # fmt: skip
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(os.environ)
        )
        try:
            deadline = time.monotonic() + 20
            with httpx.Client(timeout=5) as client:
                while True:
                    try:
                        meta = client.get(
                            f"http://127.0.0.1:{port}/.well-known/oauth-protected-resource/data"
                        )
                        break
                    except httpx.TransportError:
                        if time.monotonic() > deadline or proc.poll() is not None:
                            raise
                        time.sleep(0.1)
                assert meta.json()["authorization_servers"] == [issuer]
                bare = client.get(resource)
                assert bare.status_code == 401
                assert "resource_metadata=" in bare.headers["www-authenticate"]
                now = int(time.time())
                token = mini.token(mini.claims(iat=now, exp=now + 120))
                response = client.get(
                    resource,
                    headers={
                        "Authorization": f"DPoP {token}",
                        "DPoP": mini.proof(token, url=resource, iat=now),
                    },
                )
                assert response.status_code == 200, response.text
                assert response.json()["principal"]["sub"] == "user-1"
                state.revoked.add(7)
        finally:
            proc.terminate()
            try:
                output, _ = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                proc.kill()
                output, _ = proc.communicate()
        lines = output.decode(errors="replace")
        assert "GET /data 401" in lines and "GET /data 200" in lines
