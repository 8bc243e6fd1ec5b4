"""POST /revoke (RFC 7009) and POST /introspect (RFC 7662)."""

from __future__ import annotations

import time

import pytest

from mcp_auth.reference.issuer import audit
from mcp_auth.schemas import validate

from .conftest import ISSUER, RESOURCE, TOOL_RESOURCES, USER, World
from .helpers import assert_error, assert_exchange_refused, decode_claims


def chain_of_three(world: World) -> list[str]:
    first = world.issue()
    second = world.tools[0].exchange(first, TOOL_RESOURCES[1]).access_token
    third = world.tools[1].exchange(second, TOOL_RESOURCES[2]).access_token
    return [first, second, third]


def test_introspection_holder_and_audience(world: World) -> None:
    token = world.issue()
    for caller in (world.agent, world.tools[0]):
        info = caller.introspect(token)
        validate("introspection-response", info)
        assert info["active"] is True
        assert info["token_type"] == "DPoP"
        claims = decode_claims(token)
        for name in (
            "iss",
            "sub",
            "aud",
            "client_id",
            "scope",
            "exp",
            "iat",
            "jti",
            "grant_id",
            "act",
            "cnf",
        ):
            assert info[name] == claims[name]
        assert info["iss"] == ISSUER and info["sub"] == USER


def test_introspection_others_see_inactive(world: World) -> None:
    token = world.issue()
    for caller in (world.tools[1], world.resource, world.other_agent):
        assert caller.introspect(token) == {"active": False}


@pytest.mark.parametrize("token", ["", "x", "a.b.c", "e30.e30.e30", "x" * 9000])
def test_introspection_garbage(world: World, token: str) -> None:
    form = {"token": token, **world.agent.auth_form()}
    response = world.http.post("/introspect", data=form)
    if token == "":
        assert_error(response, 400, "invalid_request")
    else:
        assert response.status_code == 200
        assert response.json() == {"active": False}
        validate("introspection-response", response.json())


def test_introspection_expired(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    token = world.issue()
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 301)
    assert world.agent.introspect(token) == {"active": False}


def test_introspection_requires_client_auth(world: World) -> None:
    response = world.http.post("/introspect", data={"token": world.issue()})
    assert_error(response, 401, "invalid_client")


def test_revoke_cascades_to_descendants(world: World) -> None:
    first, second, third = chain_of_three(world)
    world.tools[0].revoke(second)  # the holder of the middle token
    assert world.agent.introspect(first)["active"] is True
    assert world.tools[1].introspect(second) == {"active": False}
    assert world.tools[2].introspect(third) == {"active": False}
    form = world.tools[2].exchange_form(third, RESOURCE)
    response = world.http.post("/token", data=form, headers=world.tools[2].token_headers())
    assert_exchange_refused(response, "subject_token_revoked")
    events = [
        e
        for e in audit.events_for_grant(world.ctx.db, world.grant_id)
        if e["type"] == "token.revoked"
    ]
    assert len(events) == 1 and events[0]["token_jti"] == decode_claims(second)["jti"]


def test_revoke_only_by_holder(world: World) -> None:
    token = world.issue()
    world.tools[0].revoke(token)  # audience, not holder: 200, nothing happens
    world.other_agent.revoke(token)
    assert world.agent.introspect(token)["active"] is True
    world.agent.revoke(token)
    assert world.agent.introspect(token) == {"active": False}


@pytest.mark.parametrize("token", ["unknown", "a.b.c", "x" * 9000])
def test_revoke_unknown_is_200(world: World, token: str) -> None:
    response = world.http.post("/revoke", data={"token": token, **world.agent.auth_form()})
    assert response.status_code == 200
    assert response.content == b""


def test_revoke_idempotent_and_hint_ignored(world: World) -> None:
    token = world.issue()
    for _ in range(2):
        form = {"token": token, "token_type_hint": "refresh_token", **world.agent.auth_form()}
        assert world.http.post("/revoke", data=form).status_code == 200
    revoked = [
        e
        for e in audit.events_for_grant(world.ctx.db, world.grant_id)
        if e["type"] == "token.revoked"
    ]
    assert len(revoked) == 1


def test_revoke_errors(world: World) -> None:
    assert_error(world.http.post("/revoke", data={"token": "x"}), 401, "invalid_client")
    assert_error(world.http.post("/revoke", data=world.agent.auth_form()), 400, "invalid_request")


def test_grant_revocation_stops_everything(world: World) -> None:
    tokens = chain_of_three(world)
    response = world.http.delete(f"/grants/{world.grant_id}", headers=world.admin)
    assert response.status_code == 204
    holders = [world.agent, world.tools[0], world.tools[1]]
    for holder, token in zip(holders, tokens, strict=True):
        assert holder.introspect(token) == {"active": False}
    form = world.agent.issue_form(world.grant_id, TOOL_RESOURCES[0], "model-1")
    response = world.http.post("/token", data=form, headers=world.agent.token_headers())
    assert_error(response, 400, "invalid_grant")
