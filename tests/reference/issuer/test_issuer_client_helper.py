"""The client helper (reference/issuer/client.py), async, over httpx's ASGI transport."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from mcp_auth.reference.issuer.client import AsyncIssuerClient, IssuerError, TokenResponse

from .conftest import ISSUER, MODEL, RESOURCE, TOOL_RESOURCES, make_world
from .helpers import decode_claims


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_async_chain_over_asgi_transport(tmp_path: Path) -> None:
    world, http = make_world(tmp_path / "d")
    app = http.app
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as client:
        agent = AsyncIssuerClient(ISSUER, "agent", world.keys["agent"], http=client)
        tool = AsyncIssuerClient(ISSUER, "tool-1", world.keys["tool-1"], http=client)
        api = AsyncIssuerClient(ISSUER, "api", world.keys["api"], http=client)
        first = await agent.issue(world.grant_id, TOOL_RESOURCES[0], MODEL, scope="files:read")
        assert isinstance(first, TokenResponse) and first.scope == "files:read"
        second = await tool.exchange(first.access_token, RESOURCE)
        assert decode_claims(second.access_token)["cnf"]["jkt"] == tool.jkt
        assert (await api.introspect(second.access_token))["active"] is True
        await agent.revoke(first.access_token)
        assert (await api.introspect(second.access_token)) == {"active": False}
        with pytest.raises(IssuerError) as info:
            await tool.exchange(first.access_token, RESOURCE)
        assert info.value.status == 400 and info.value.error == "invalid_request"
        assert info.value.mcpa_error == "subject_token_revoked"
        body = world.grant_body()
        body.pop("client_id")
        pending = await agent.create_grant(body)
        assert pending["status"] == "pending"
    world.ctx.db.close()


def test_client_assertion_matches_schema(tmp_path: Path) -> None:
    from mcp_auth.reference.issuer.client import make_client_assertion, new_client_key
    from mcp_auth.schemas import validate

    private, _ = new_client_key("c")
    token = make_client_assertion("c", private, ISSUER)
    validate("client-assertion-claims", decode_claims(token))
