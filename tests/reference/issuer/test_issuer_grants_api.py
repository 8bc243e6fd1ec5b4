"""The grant management API: /grants, /grants/{id}, /grants/{id}/events."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_auth.reference.issuer.client import make_client_assertion
from mcp_auth.schemas import validate

from .conftest import ISSUER, MODEL, TOOL_RESOURCES, World
from .helpers import assert_error


def client_body(world: World, **over: Any) -> dict[str, Any]:
    body = world.grant_body()
    body.pop("client_id")
    body.update(over)
    return body


def bearer(world: World, client_id: str, aud: str = ISSUER) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {make_client_assertion(client_id, world.keys[client_id], aud)}"
    }


def test_client_creates_pending_grant(world: World) -> None:
    response = world.http.post(
        "/grants", json=client_body(world, purpose="book a trip"), headers=bearer(world, "agent")
    )
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    grant = response.json()
    validate("grant", grant)
    assert grant["status"] == "pending"
    assert grant["client_id"] == "agent"
    assert grant["approval_uri"] == f"{ISSUER}/consent/grants/{grant['grant_id']}"
    assert response.headers["location"] == f"{ISSUER}/grants/{grant['grant_id']}"
    assert len(grant["grant_id"]) >= 22  # >= 128 bits
    assert grant["max_depth"] == 5 and grant["max_token_lifetime"] == 300
    assert grant["purpose"] == "book a trip"


def test_admin_creates_active_grant(world: World) -> None:
    grant = world.admin_grant()
    validate("grant", grant)
    assert grant["status"] == "active" and "approval_uri" not in grant
    assert grant["approved_at"] >= grant["created_at"]


def test_assertion_audience_issuer_accepted(world: World) -> None:
    response = world.http.get("/grants", headers=bearer(world, "agent", ISSUER))
    assert response.status_code == 200


def test_list_own_grants_only(world: World) -> None:
    world.admin_grant(client_id="agent-2")
    mine = world.http.get("/grants", headers=bearer(world, "agent")).json()["grants"]
    assert {g["client_id"] for g in mine} == {"agent"}
    for grant in mine:
        validate("grant", grant)
    active = world.http.get("/grants?status=active", headers=bearer(world, "agent")).json()
    assert all(g["status"] == "active" for g in active["grants"])
    everything = world.http.get("/grants", headers=world.admin).json()["grants"]
    assert {g["client_id"] for g in everything} == {"agent", "agent-2"}


@pytest.mark.parametrize("query", ["?status=bogus", "?status=active&status=pending", "?colour=red"])
def test_list_bad_query(world: World, query: str) -> None:
    response = world.http.get(f"/grants{query}", headers=bearer(world, "agent"))
    assert_error(response, 400, "invalid_request")


def test_get_others_grant_is_404(world: World) -> None:
    other = world.admin_grant(client_id="agent-2")["grant_id"]
    for path in (f"/grants/{other}", f"/grants/{other}/events"):
        assert_error(world.http.get(path, headers=bearer(world, "agent")), 404, "not_found")
    response = world.http.delete(f"/grants/{other}", headers=bearer(world, "agent"))
    assert_error(response, 404, "not_found")
    assert_error(world.http.get("/grants/nope", headers=bearer(world, "agent")), 404, "not_found")
    own = world.http.get(f"/grants/{world.grant_id}", headers=bearer(world, "agent"))
    assert own.status_code == 200 and own.json()["grant_id"] == world.grant_id


def test_delete_revokes_idempotently(world: World) -> None:
    for _ in range(2):
        response = world.http.delete(f"/grants/{world.grant_id}", headers=bearer(world, "agent"))
        assert response.status_code == 204 and response.content == b""
    grant = world.http.get(f"/grants/{world.grant_id}", headers=world.admin).json()
    assert grant["status"] == "revoked" and "revoked_at" in grant
    events = world.http.get(f"/grants/{world.grant_id}/events", headers=world.admin).json()
    types = [e["type"] for e in events["events"]]
    assert types.count("grant.revoked") == 1


def actors(world: World, gid: str) -> list[tuple[str, dict[str, str]]]:
    events = world.http.get(f"/grants/{gid}/events", headers=world.admin).json()["events"]
    return [(e["type"], e["actor"]) for e in events]


def test_events_name_their_actor(world: World) -> None:
    # MCPA-AUD-011: the administrator provisions, the client asks, issues and revokes.
    world.issue()
    world.http.delete(f"/grants/{world.grant_id}", headers=bearer(world, "agent"))
    assert actors(world, world.grant_id) == [
        ("grant.created", {"type": "admin"}),
        ("grant.approved", {"type": "admin"}),
        ("token.issued", {"type": "client", "id": "agent"}),
        ("grant.revoked", {"type": "client", "id": "agent"}),
    ]
    body = world.grant_body()
    body.pop("client_id")
    pending = world.agent.create_grant(body)["grant_id"]
    world.http.delete(f"/grants/{pending}", headers=world.admin)
    assert actors(world, pending) == [
        ("grant.created", {"type": "client", "id": "agent"}),
        ("grant.revoked", {"type": "admin"}),
    ]


def test_events_api(world: World) -> None:
    world.issue()
    response = world.http.get(f"/grants/{world.grant_id}/events", headers=bearer(world, "agent"))
    assert response.status_code == 200
    events = response.json()["events"]
    assert [e["type"] for e in events] == ["grant.created", "grant.approved", "token.issued"]
    for event in events:
        validate("audit-event", event)
    assert events[-1]["act"]["mcpa_model"] == MODEL


def test_expiry_reported(world: World) -> None:
    gid = world.admin_grant(expires_in=1)["grant_id"]
    with world.ctx.db.transaction() as conn:
        conn.execute("UPDATE grants SET expires_at = 5 WHERE grant_id = ?", (gid,))
    grant = world.http.get(f"/grants/{gid}", headers=world.admin).json()
    assert grant["status"] == "expired"
    types = [
        e["type"]
        for e in world.http.get(f"/grants/{gid}/events", headers=world.admin).json()["events"]
    ]
    assert types[-1] == "grant.expired"
    assert actors(world, gid)[-1] == ("grant.expired", {"type": "issuer"})


@pytest.mark.parametrize(
    "over",
    [
        {"sub": ""},
        {"sub": 5},
        {"resources": []},
        {"resources": ["not a uri"]},
        {"resources": ["https://a.test/"] * 2},
        {"resources": [f"https://a{i}.test/" for i in range(33)]},
        {"scopes": []},
        {"scopes": ["bad scope"]},
        {"scopes": [f"s{i}" for i in range(65)]},
        {"tools": "tool-1"},
        {"models": []},
        {"max_depth": 6},
        {"max_depth": 0},
        {"max_depth": True},
        {"max_token_lifetime": 301},
        {"max_token_lifetime": 0},
        {"expires_in": 0},
        {"purpose": "x" * 1025},
        {"surprise": 1},
        {"client_id": "agent-2"},
    ],
)
def test_bad_create_body(world: World, over: dict[str, Any]) -> None:
    response = world.http.post(
        "/grants", json=client_body(world, **over), headers=bearer(world, "agent")
    )
    assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize(
    "content",
    [b"{", b"[]", b"\xff\xfe", b'{"sub":"a","sub":"b"}', b"NaN", b"[" * 5000 + b"]" * 5000],
)
def test_bad_json(world: World, content: bytes) -> None:
    headers = {**bearer(world, "agent"), "Content-Type": "application/json"}
    response = world.http.post("/grants", content=content, headers=headers)
    assert_error(response, 400, "invalid_request")


def test_admin_needs_registered_agent(world: World) -> None:
    for client_id in ("nobody", "tool-1", None):
        body = world.grant_body(client_id=client_id)
        if client_id is None:
            body.pop("client_id")
        response = world.http.post("/grants", json=body, headers=world.admin)
        assert_error(response, 400, "invalid_request")


def test_authentication_errors(world: World) -> None:
    assert_error(world.http.get("/grants"), 401, "invalid_client")
    response = world.http.get("/grants", headers={"Authorization": "Bearer wrong"})
    body = assert_error(response, 401, "invalid_client")
    assert body["error_description"] == "client authentication failed"
    assert response.headers["www-authenticate"].startswith("Bearer")
    # rfc7523bis: an endpoint URL is never the audience, not even the grants endpoint's
    for endpoint in ("/token", "/grants"):
        response = world.http.get("/grants", headers=bearer(world, "agent", ISSUER + endpoint))
        assert_error(response, 401, "invalid_client")
    replayed = bearer(world, "agent")
    assert world.http.get("/grants", headers=replayed).status_code == 200
    assert_error(world.http.get("/grants", headers=replayed), 401, "invalid_client")
    response = world.http.get(
        "/grants", headers=[("Authorization", "Bearer a"), ("Authorization", "Bearer b")]
    )
    assert_error(response, 401, "invalid_client")


def test_tool_cannot_create_grants(world: World) -> None:
    response = world.http.post("/grants", json=client_body(world), headers=bearer(world, "tool-1"))
    assert_error(response, 403, "access_denied")


def test_admin_clients_api(world: World) -> None:
    from mcp_auth.reference.issuer.client import new_client_key

    _, jwks = new_client_key("new-tool")
    body = {
        "client_id": "new-tool",
        "client_type": "tool",
        "jwks": jwks,
        "resource": "https://new.test/mcp",
        "client_name": "New tool",
    }
    assert_error(world.http.post("/admin/clients", json=body), 401, "invalid_client")
    assert_error(
        world.http.post("/admin/clients", json=body, headers=bearer(world, "agent")),
        401,
        "invalid_client",
    )
    created = world.http.post("/admin/clients", json=body, headers=world.admin)
    assert created.status_code == 201, created.text
    again = world.http.post("/admin/clients", json=body, headers=world.admin)
    assert_error(again, 400, "invalid_request")
    dup_resource = {**body, "client_id": "other", "resource": TOOL_RESOURCES[0]}
    assert_error(
        world.http.post("/admin/clients", json=dup_resource, headers=world.admin),
        400,
        "invalid_request",
    )
    listed = world.http.get("/admin/clients", headers=world.admin).json()["clients"]
    assert "new-tool" in {c["client_id"] for c in listed}
    got = world.http.get("/admin/clients/new-tool", headers=world.admin).json()
    assert got["resource"] == "https://new.test/mcp"
    assert got["client_name"] == "New tool"
    assert world.http.delete("/admin/clients/new-tool", headers=world.admin).status_code == 204
    assert_error(
        world.http.delete("/admin/clients/new-tool", headers=world.admin), 404, "not_found"
    )


@pytest.mark.parametrize(
    "resources",
    [
        ["http://example.test/"],
        ["https://x.test/" + "a" * 2040],
        ["https://x.test/#frag"],
        ["/relative"],
        ["https://"],
    ],
)
def test_resource_identifier_rules(world: World, resources: list[str]) -> None:
    response = world.http.post(
        "/grants", json=client_body(world, resources=resources), headers=bearer(world, "agent")
    )
    assert_error(response, 400, "invalid_request")


def test_loopback_http_and_unicode_identifiers_accepted(world: World) -> None:
    body = client_body(
        world,
        resources=[
            "http://127.0.0.1:8401/mcp",
            "http://localhost:8402",
            "https://x.test/" + "a" * 1900,
        ],
        models=["modèle 2026"],
        sub="Zoë",
    )
    response = world.http.post("/grants", json=body, headers=bearer(world, "agent"))
    assert response.status_code == 201, response.text
    validate("grant", response.json())


def test_list_foreign_client_filter_is_404_last(world: World) -> None:
    # Section 2.3, step 5 (MCPA-GRT-025): the query parameters are checked (400,
    # MCPA-GRT-022) before a client_id naming another client (404).
    response = world.http.get(
        "/grants?client_id=agent-2&status=bogus", headers=bearer(world, "agent")
    )
    assert_error(response, 400, "invalid_request")
    response = world.http.get(
        "/grants?client_id=agent&client_id=agent-2", headers=bearer(world, "agent")
    )
    assert_error(response, 400, "invalid_request")
    response = world.http.get("/grants?client_id=agent-2", headers=bearer(world, "agent"))
    assert_error(response, 404, "not_found")
    response = world.http.get("/grants?client_id=agent", headers=bearer(world, "agent"))
    assert response.status_code == 200


def test_no_store_everywhere(world: World) -> None:
    responses = [
        world.http.get("/grants", headers=bearer(world, "agent")),
        world.http.get(f"/grants/{world.grant_id}", headers=world.admin),
        world.http.get(f"/grants/{world.grant_id}/events", headers=world.admin),
        world.http.delete(f"/grants/{world.grant_id}", headers=world.admin),
        world.http.get("/grants"),
    ]
    for response in responses:
        assert response.headers["cache-control"] == "no-store", response
