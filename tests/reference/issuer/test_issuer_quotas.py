"""Grant quotas (Appendix A A.18-A.20, MCPA-GRT-026) and status entries only at approval.

Regression for issue 14 finding 1: one agent creating grants in a loop used to take a
status index per pending grant, forever, until every ``POST /grants`` (the admin's too)
answered 500. Now pending grants hold no entry, the agent is stopped by its pending quota
with 403 ``quota_exceeded``, and the admin can still provision.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from mcp_auth.reference.issuer import grants
from mcp_auth.reference.issuer.app import create_app
from mcp_auth.reference.issuer.settings import PENDING_GRANTS_PER_CLIENT
from mcp_auth.schemas import validate

from .conftest import World, make_world


def _pending_body(world: World, sub: str = "alice") -> dict[str, Any]:
    body = world.grant_body(sub=sub)
    del body["client_id"]
    return body


def _quota_error(response: Any, quota: str) -> None:
    assert response.status_code == 403, response.text
    body = response.json()
    validate("error-response", body)
    assert body["error"] == "quota_exceeded" and body["mcpa_quota"] == quota
    assert quota in body["error_description"]
    assert response.headers["cache-control"] == "no-store"


def test_agent_flood_stops_at_its_quota_and_admin_still_provisions(world: World) -> None:
    created = 0
    for n in range(PENDING_GRANTS_PER_CLIENT + 50):  # bounded: stops by itself
        body = _pending_body(world, f"user-{n}")
        response = world.http.post("/grants", json=body, headers=world.agent.bearer())
        if response.status_code != 201:
            break
        assert "status_list" not in response.json()  # pending: no scarce entry
        created += 1
    assert created == PENDING_GRANTS_PER_CLIENT
    _quota_error(response, "pending_per_client")
    allocated = world.ctx.db.query_one("SELECT SUM(allocated) FROM status_lists")[0]
    assert allocated == 1  # only the fixture's admin grant holds an entry
    admin = world.http.post("/grants", json=world.grant_body(), headers=world.admin)
    assert admin.status_code == 201 and admin.json()["status"] == "active"
    assert "status_list" in admin.json()
    # Withdrawing a pending grant frees a slot.
    pending = grants.list_grants(world.ctx.db, client_id="agent", status="pending")
    assert (
        world.http.delete(
            f"/grants/{pending[0].grant_id}", headers=world.agent.bearer()
        ).status_code
        == 204
    )
    body = _pending_body(world, "user-again")
    again = world.http.post("/grants", json=body, headers=world.agent.bearer())
    assert again.status_code == 201


def _world_with(tmp_path: Path, **limits: int) -> tuple[World, TestClient]:
    world, http = make_world(tmp_path / "d")
    settings = replace(world.settings, **limits)
    world.ctx.settings = settings
    world.settings = settings
    return world, http


def test_pending_per_user_quota(tmp_path: Path) -> None:
    world, http = _world_with(tmp_path, pending_grants_per_user=3)
    with http:
        for n in range(3):
            who = world.agent if n % 2 else world.other_agent
            assert (
                http.post("/grants", json=_pending_body(world), headers=who.bearer()).status_code
                == 201
            )
        _quota_error(
            http.post("/grants", json=_pending_body(world), headers=world.agent.bearer()),
            "pending_per_user",
        )
        other_user = http.post(
            "/grants", json=_pending_body(world, "bob"), headers=world.agent.bearer()
        )
        assert other_user.status_code == 201
    world.ctx.db.close()


def test_live_per_client_quota_applies_to_admin_too(tmp_path: Path) -> None:
    world, http = _world_with(tmp_path, live_grants_per_client=3)
    with http:
        for _ in range(2):  # the fixture made one already
            assert (
                http.post("/grants", json=world.grant_body(), headers=world.admin).status_code
                == 201
            )
        _quota_error(
            http.post("/grants", json=world.grant_body(), headers=world.admin), "live_per_client"
        )
        _quota_error(
            http.post("/grants", json=_pending_body(world), headers=world.agent.bearer()),
            "live_per_client",
        )
        other = world.grant_body(client_id="agent-2")
        assert http.post("/grants", json=other, headers=world.admin).status_code == 201
    world.ctx.db.close()


def test_quota_is_checked_after_validation(world: World) -> None:
    """Step order of section 2.3: a malformed body is 400 even when the quota is full."""
    world.ctx.settings = replace(world.ctx.settings, live_grants_per_client=1)
    bad = world.http.post("/grants", json={"sub": "alice"}, headers=world.admin)
    assert bad.status_code == 400
    full = world.http.post("/grants", json=world.grant_body(), headers=world.admin)
    assert full.status_code == 403


def test_settings_reject_zero_quota(tmp_path: Path) -> None:
    import pytest

    for name in ("pending_grants_per_client", "pending_grants_per_user", "live_grants_per_client"):
        with pytest.raises(ValueError):
            create_app(replace_settings(tmp_path, **{name: 0}))


def replace_settings(tmp_path: Path, **values: int) -> Any:
    from mcp_auth.reference.issuer.settings import Settings

    return Settings(data_dir=tmp_path / "x", issuer_url="https://issuer.test", **values)
