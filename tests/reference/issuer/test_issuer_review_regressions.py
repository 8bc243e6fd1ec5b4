"""Regression tests for defects found in the security review of the issuer."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from mcp_auth.reference.issuer import grants
from mcp_auth.reference.issuer.client import make_client_assertion
from mcp_auth.reference.issuer.metadata import JWT_BEARER_ASSERTION

from .conftest import ISSUER, World, make_world
from .helpers import assert_error


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Clock:
    """``time.time`` shifted by ``offset`` seconds."""

    def __init__(self) -> None:
        self.real = time.time
        self.offset = 0.0

    def __call__(self) -> float:
        return self.real() + self.offset


def _revoke_form(client_id: str, key: dict[str, object], *, jti: str | None = None) -> bytes:
    assertion = make_client_assertion(client_id, key, ISSUER, jti=jti)  # type: ignore[arg-type]
    form = {
        "client_assertion_type": JWT_BEARER_ASSERTION,
        "client_assertion": assertion,
        "token": "not-a-token",
    }
    return urlencode(form).encode("ascii")


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/token", "/revoke", "/introspect"])
async def test_client_assertion_replay_during_slow_upload_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """MCPA-CLA-003: the request time must be taken once the body is in.

    A replayed assertion whose request body trickles in for minutes used to be judged at
    the instant the request *started*: meanwhile another request purged its consumed
    ``jti`` (expired by then), so the replay passed both the expiry and the replay check.
    """
    clock = Clock()
    monkeypatch.setattr(time, "time", clock)
    world, http = make_world(tmp_path / "d")
    key = world.keys["agent"]
    replayed = _revoke_form("agent", key, jti="replayed-jti")
    headers = {"content-type": "application/x-www-form-urlencoded"}
    release = asyncio.Event()

    async def trickle() -> AsyncIterator[bytes]:
        yield replayed[:10]
        await release.wait()
        yield replayed[10:]

    transport = httpx.ASGITransport(app=http.app)
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as client:
        first = await client.post(path, content=replayed, headers=headers)
        assert first.status_code != 401, first.text  # authenticated (then maybe refused)
        clock.offset = 5
        attack = asyncio.create_task(client.post(path, content=trickle(), headers=headers))
        await asyncio.sleep(0.05)  # the attacker's request has started reading its body
        clock.offset = 200  # the assertion (exp + 60) is long expired; its jti purgeable
        other = await client.post(
            "/revoke", content=_revoke_form("agent-2", world.keys["agent-2"]), headers=headers
        )
        assert other.status_code == 200, other.text
        release.set()
        response = await attack
    assert_error(response, 401, "invalid_client")
    world.ctx.db.close()


def test_lone_surrogate_in_grant_body_is_invalid_request(world: World) -> None:
    """MCPA-GRT-013: a JSON string with a lone surrogate escape is a 400, not a 500.

    ``purpose`` is the one string member without a character check, so ``"\\ud800"``
    reached SQLite, which cannot encode it, and the issuer answered 500.
    """
    body = json.dumps(world.grant_body(purpose="why \ud800")).encode("ascii")
    headers = {**world.admin, "content-type": "application/json"}
    response = world.http.post("/grants", content=body, headers=headers)
    assert_error(response, 400, "invalid_request")
    agent_body = json.dumps({**world.grant_body(purpose="\udfff"), "client_id": "agent"})
    response = world.http.post(
        "/grants",
        content=agent_body.encode("ascii"),
        headers={**world.agent.bearer(), "content-type": "application/json"},
    )
    assert_error(response, 400, "invalid_request")


class _CommitFails:
    """A connection whose next ``COMMIT`` fails the way SQLite may fail it (I/O error)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.armed = True

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if self.armed and sql == "COMMIT":
            self.armed = False
            raise sqlite3.OperationalError("disk I/O error")
        return self.conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


def test_failed_commit_is_rolled_back(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """MCPA-AUD-009: a revocation answered 503 is not applied, and the issuer recovers.

    When ``COMMIT`` itself failed, the transaction stayed open on the shared connection:
    every later read saw the unacknowledged revocation and every later write failed with
    "cannot start a transaction within a transaction" until the issuer was restarted.
    """
    db = world.ctx.db
    monkeypatch.setattr(db, "_conn", _CommitFails(db._conn))
    response = world.http.delete(f"/grants/{world.grant_id}", headers=world.admin)
    assert_error(response, 503, "temporarily_unavailable")
    grant = grants.get_grant(db, world.grant_id)
    assert grant is not None and grant.status == "active"  # not acknowledged, not applied
    assert world.issue()  # the issuer still works
    assert world.http.delete(f"/grants/{world.grant_id}", headers=world.admin).status_code == 204
