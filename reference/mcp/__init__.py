"""MCP-Auth with the MCP Python SDK (``mcp`` 2.x): protect an ``MCPServer``, drive it with DPoP.

Server side (``adapter``)::

    server = MCPServer("my-tool", token_verifier=MCPAuthTokenVerifier(),
                       auth=mcp_auth_settings(issuer=ISSUER, resource=RESOURCE))
    app = protect(server.streamable_http_app(), issuer=ISSUER, resource=RESOURCE)

and in a tool handler ``current_principal()`` / ``current_token()`` (or the SDK's
``get_access_token()``). Client side (``dpop_auth``): ``DPoPAuth(token, DPoPKey)`` as the
``auth`` of the ``httpx2.AsyncClient`` given to ``streamable_http_client``.

``example_server`` and ``demo_client`` are the runnable example (``mcp-auth mcp-example``,
``mcp-auth mcp-demo-client``); spec/guides/protect-an-mcp-server.md walks through them.

The names are loaded on first use, so that ``mcp-auth`` subcommands unrelated to MCP do not
import the SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .adapter import (
        MCPAuthASGI,
        MCPAuthTokenVerifier,
        access_token_for,
        chain_of,
        current_access_token,
        current_principal,
        current_token,
        mcp_auth_settings,
        protect,
    )
    from .dpop_auth import DPoPAuth, DPoPKey

_EXPORTS = {
    "MCPAuthASGI": "adapter",
    "MCPAuthTokenVerifier": "adapter",
    "access_token_for": "adapter",
    "chain_of": "adapter",
    "current_access_token": "adapter",
    "current_principal": "adapter",
    "current_token": "adapter",
    "mcp_auth_settings": "adapter",
    "protect": "adapter",
    "DPoPAuth": "dpop_auth",
    "DPoPKey": "dpop_auth",
}

__all__ = [
    "DPoPAuth",
    "DPoPKey",
    "MCPAuthASGI",
    "MCPAuthTokenVerifier",
    "access_token_for",
    "chain_of",
    "current_access_token",
    "current_principal",
    "current_token",
    "mcp_auth_settings",
    "protect",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
