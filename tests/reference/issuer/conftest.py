"""Fixtures: an issuer app on a temp data dir, registered clients and an active grant.

Requests go through Starlette's TestClient (httpx over the ASGI app, no sockets).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from mcp_auth.reference.issuer import grants
from mcp_auth.reference.issuer.app import create_app
from mcp_auth.reference.issuer.client import IssuerClient, new_client_key
from mcp_auth.reference.issuer.clients import Client, save_client
from mcp_auth.reference.issuer.context import IssuerContext
from mcp_auth.reference.issuer.settings import Settings
from mcp_auth.reference.issuer.users import add_user

ISSUER = "https://issuer.test"
TOOL_RESOURCES = ("https://tool1.test/mcp", "https://tool2.test/mcp", "https://tool3.test/mcp")
RESOURCE = "https://api.test"
SCOPES = ("files:read", "files:write", "data:read")
MODEL = "model-1"
USER = "alice"
PASSWORD = "correct horse battery"


@dataclass
class World:
    settings: Settings
    http: TestClient
    ctx: IssuerContext
    agent: IssuerClient
    tools: list[IssuerClient]
    resource: IssuerClient
    other_agent: IssuerClient
    grant_id: str = ""
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.ctx.admin_token}"}

    def client(self, client_id: str, **kwargs: Any) -> IssuerClient:
        return IssuerClient(ISSUER, client_id, self.keys[client_id], http=self.http, **kwargs)

    def register(self, client_id: str, client_type: str, resource: str | None = None) -> None:
        private, jwks = new_client_key(client_id)
        self.keys[client_id] = private
        save_client(self.ctx.db, Client(client_id, client_type, jwks, resource, "test"))

    def grant_body(self, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "sub": USER,
            "client_id": "agent",
            "resources": [*TOOL_RESOURCES, RESOURCE],
            "scopes": list(SCOPES),
            "tools": ["tool-1", "tool-2", "tool-3"],
            "models": [MODEL],
        }
        body.update(overrides)
        return body

    def admin_grant(self, **overrides: Any) -> dict[str, Any]:
        response = self.http.post("/grants", json=self.grant_body(**overrides), headers=self.admin)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    @property
    def status_path(self) -> str:
        """The path of the status list holding the world grant's entry."""
        grant = grants.get_grant(self.ctx.db, self.grant_id)
        assert grant is not None and grant.status_list_id is not None
        return f"/status/{grant.status_list_id}"

    def issue(self, **kwargs: Any) -> str:
        params = {"grant_id": self.grant_id, "resource": TOOL_RESOURCES[0], "model": MODEL}
        params.update(kwargs)
        return self.agent.issue(**params).access_token


def make_world(data_dir: Path) -> tuple[World, TestClient]:
    settings = Settings(data_dir=data_dir, issuer_url=ISSUER)
    app = create_app(settings)
    http = TestClient(app, base_url=ISSUER)
    ctx: IssuerContext = app.state.ctx
    world = World(settings, http, ctx, None, [], None, None)  # type: ignore[arg-type]
    world.register("agent", "agent")
    world.register("agent-2", "agent")
    for number, res in enumerate(TOOL_RESOURCES, start=1):
        world.register(f"tool-{number}", "tool", res)
    world.register("tool-x", "tool", "https://toolx.test/mcp")
    world.register("api", "resource", RESOURCE)
    world.agent = world.client("agent")
    world.other_agent = world.client("agent-2")
    world.tools = [world.client(f"tool-{n}") for n in (1, 2, 3)]
    world.resource = world.client("api")
    add_user(ctx.db, USER, PASSWORD)
    world.grant_id = world.admin_grant()["grant_id"]
    return world, http


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w, http = make_world(tmp_path / "data")
    with http:
        yield w
    w.ctx.db.close()


def grant_request(**overrides: Any) -> grants.GrantRequest:
    values: dict[str, Any] = {
        "sub": USER,
        "client_id": "agent",
        "resources": (*TOOL_RESOURCES, RESOURCE),
        "scopes": SCOPES,
        "tools": ("tool-1", "tool-2", "tool-3"),
        "models": (MODEL,),
        "max_depth": 5,
        "max_token_lifetime": 300,
        "expires_in": 3600,
        "purpose": None,
    }
    values.update(overrides)
    return grants.GrantRequest(**values)
