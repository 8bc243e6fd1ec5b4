"""The MCP SDK adapter in one process: the SDK's own server and client, no network.

An ``MCPServer`` with ``MCPAuthTokenVerifier`` behind ``protect()``, a verifier with injected
issuer keys and status (so nothing is fetched), and the SDK's ``Client`` over streamable HTTP
through ``httpx2.ASGITransport`` with ``DPoPAuth``. The slow end-to-end test runs the same
pieces as real processes against the reference issuer.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError

from mcp_auth.reference.jose import generate_private_key, load_jwks, public_jwk, sign_compact
from mcp_auth.reference.mcp.adapter import (
    MCPAuthTokenVerifier,
    chain_of,
    current_principal,
    current_token,
    mcp_auth_settings,
    protect,
)
from mcp_auth.reference.mcp.dpop_auth import DPoPAuth, DPoPKey
from mcp_auth.reference.verifier import StaticStatus, Verifier, VerifierSettings

pytestmark = pytest.mark.timeout(60)

ISSUER = "https://issuer.example"
RESOURCE = "http://127.0.0.1:8401/mcp"
STATUS_URI = f"{ISSUER}/status/1"
METADATA_URL = "http://127.0.0.1:8401/.well-known/oauth-protected-resource/mcp"
ISSUER_KEY = generate_private_key("ES256")
KEYS = load_jwks({"keys": [public_jwk(ISSUER_KEY, "k1", "ES256")]})
ACT = {"actor_type": "agent", "sub": "agent-1", "mcpa_model": "model-x"}


def mint(holder: DPoPKey, *, scope: str = "data:read files:read", idx: int = 3) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": "alice",
        "aud": RESOURCE,
        "client_id": "agent-1",
        "iat": now,
        "exp": now + 120,
        "jti": secrets.token_urlsafe(16),
        "scope": scope,
        "grant_id": "grant-1",
        "cnf": {"jkt": holder.thumbprint()},
        "status": {"mcpa_grant_list": {"idx": idx, "uri": STATUS_URI}},
        "act": ACT,
    }
    return sign_compact({"typ": "mcpa+jwt", "kid": "k1"}, claims, ISSUER_KEY, "ES256")


def build(revoked: tuple[int, ...] = ()) -> tuple[MCPServer, Any]:
    server = MCPServer(
        "adapter-test",
        token_verifier=MCPAuthTokenVerifier(),
        auth=mcp_auth_settings(issuer=ISSUER, resource=RESOURCE, required_scopes=["data:read"]),
    )

    @server.tool()
    async def inspect() -> dict[str, Any]:
        token = get_access_token()
        assert token is not None and token.claims is not None
        principal = current_principal()
        return {
            "client_id": token.client_id,
            "subject": token.subject,
            "resource": token.resource,
            "scopes": token.scopes,
            "expires_at": token.expires_at,
            "act": token.claims["act"],
            "grant_id": token.claims["grant_id"],
            "chain": chain_of(token.claims["act"]),
            "principal": principal.to_json(),
            "same_token": current_token() == token.token,
            "other_token_accepted": await MCPAuthTokenVerifier().verify_token("x.y.z") is not None,
        }

    verifier = Verifier(
        VerifierSettings(
            issuer=ISSUER, resource=RESOURCE, required_scopes=frozenset({"data:read"})
        ),
        keys=KEYS,
        status=StaticStatus({STATUS_URI: revoked}),
    )
    app = protect(server.streamable_http_app(), verifier=verifier, required_scopes=["data:read"])
    return server, app


def run(server: MCPServer, body: Callable[[], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with server.session_manager.run():
            return await body()

    return asyncio.run(asyncio.wait_for(main(), 30))


def test_tool_handlers_see_the_verified_principal() -> None:
    server, app = build()
    holder = DPoPKey.generate()
    token = mint(holder)

    async def body() -> Any:
        auth = DPoPAuth(token, holder)
        http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), auth=auth)
        async with http, Client(streamable_http_client(RESOURCE, http_client=http)) as client:
            return await client.call_tool("inspect", {})

    result = run(server, body)
    assert not result.is_error, result.content
    seen = result.structured_content
    assert seen["client_id"] == "agent-1"
    assert seen["subject"] == "alice"
    assert seen["resource"] == RESOURCE
    assert sorted(seen["scopes"]) == ["data:read", "files:read"]
    assert seen["act"] == ACT
    assert seen["grant_id"] == "grant-1"
    assert seen["chain"] == [{"actor_type": "agent", "sub": "agent-1", "mcpa_model": "model-x"}]
    assert seen["principal"]["grant_id"] == "grant-1"
    assert seen["same_token"] is True
    assert seen["other_token_accepted"] is False


def test_revoked_grant_is_refused_before_the_sdk() -> None:
    server, app = build(revoked=(3,))
    holder = DPoPKey.generate()
    auth = DPoPAuth(mint(holder), holder)

    async def body() -> None:
        http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), auth=auth)
        async with http, Client(streamable_http_client(RESOURCE, http_client=http)) as client:
            await client.list_tools()

    refused = False
    try:
        run(server, body)
    except* MCPError:  # the transport's stand-in for the HTTP 401, maybe in a task group
        refused = True
    assert refused
    assert auth.last_status == 401
    assert auth.last_challenge is not None
    assert auth.last_challenge.startswith('DPoP error="invalid_token"')
    assert f'resource_metadata="{METADATA_URL}"' in auth.last_challenge


def test_sdk_hook_alone_accepts_nothing() -> None:
    """Mounted without protect(), the SDK app refuses even a valid token with its proof."""
    server, _ = build()
    sdk_app = server.streamable_http_app()
    holder = DPoPKey.generate()
    token = mint(holder)
    assert asyncio.run(MCPAuthTokenVerifier().verify_token(token)) is None

    async def body() -> list[int]:
        statuses = []
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=sdk_app)) as http:
            for scheme in ("Bearer", "DPoP"):
                response = await http.post(
                    RESOURCE,
                    json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                    headers={
                        "Authorization": f"{scheme} {token}",
                        "DPoP": holder.proof("POST", RESOURCE, access_token=token),
                        "Accept": "application/json, text/event-stream",
                    },
                )
                statuses.append(response.status_code)
        return statuses

    assert run(server, body) == [401, 401]


def test_metadata_is_mcp_auth_s_not_the_sdk_s() -> None:
    server, app = build()

    async def body() -> Any:
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app)) as http:
            return (await http.get(METADATA_URL)).json()

    metadata = run(server, body)
    assert metadata["resource"] == RESOURCE
    assert metadata["authorization_servers"] == [ISSUER]
    assert metadata["dpop_bound_access_tokens_required"] is True
    assert metadata["mcpa_version"] == "draft-01"
