"""The example MCP server: an SDK ``MCPServer`` protected by MCP-Auth, exchanging downstream.

Run it with ``mcp-auth mcp-example --issuer URL --data-dir D`` (see ``cli.py``). It is the tool
``demo-tool-1`` of the demo (``mcp-auth demo seed``): its resource identifier is
``http://127.0.0.1:8401/mcp`` and its client key sits in the issuer's data directory.

Its tool ``get_data`` calls the downstream resource server. It never forwards the token it
received: that token's audience is this server. It exchanges it at the issuer (RFC 8693,
authenticated as ``demo-tool-1`` with ``private_key_jwt``, bound to this server's own DPoP key)
for a token whose audience is the downstream server, whose scope is narrowed to what the call
needs and whose chain gains this tool as the outermost actor; then it presents that token with
a DPoP proof of its own.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from starlette.types import ASGIApp

from mcp_auth.command_errors import CliError
from mcp_auth.listen import listen
from mcp_auth.listen import serve as serve_on

from ..issuer.client import AsyncIssuerClient, IssuerError, load_private_jwk
from .adapter import (
    MCPAuthTokenVerifier,
    chain_of,
    claims_for_display,
    current_principal,
    current_token,
    mcp_auth_settings,
    protect,
)
from .dpop_auth import DPoPKey

__all__ = ["Downstream", "ExampleConfig", "build_app", "build_server", "serve"]


@dataclass(frozen=True)
class ExampleConfig:
    issuer: str
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8401
    resource: str | None = None
    client_id: str = "demo-tool-1"
    downstream: str = "http://127.0.0.1:8402"
    downstream_resource: str | None = None
    downstream_path: str = "/data"
    scope: str = "data:read"
    status_max_age: int | None = None

    @property
    def resource_uri(self) -> str:
        """This server's resource identifier: the ``aud`` of tokens meant for it."""
        return self.resource or f"http://{self.host}:{self.port}/mcp"

    @property
    def downstream_uri(self) -> str:
        return self.downstream_resource or self.downstream.rstrip("/")


def tool_private_jwk(data_dir: Path, client_id: str) -> dict[str, Any]:
    """The tool's client key: from the demo seed, or from ``mcp-auth client add --generate-key``."""
    if not Path(data_dir).is_dir():
        raise CliError(
            f"no data directory at {data_dir}: give the issuer's data directory (where "
            "`mcp-auth demo seed` wrote the keys) with --data-dir",
            2,
        )
    state_file = Path(data_dir) / "demo" / "demo.json"
    try:
        if state_file.exists():
            state = json.loads(state_file.read_text(encoding="utf-8"))
            for tool in state.get("tools", []):
                if tool.get("client_id") == client_id:
                    return load_private_jwk(tool["private_jwk_file"])
        key_file = Path(data_dir) / "clients" / f"{client_id}.jwk"
        if key_file.exists():
            return load_private_jwk(key_file)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CliError(
            f"cannot load the key of {client_id!r} from {data_dir} ({exc}): run "
            "`mcp-auth demo seed` again",
            2,
        ) from None
    raise CliError(
        f"no private key for {client_id!r} in {data_dir}: run `mcp-auth demo seed` or "
        f"`mcp-auth client add {client_id} --type tool --resource URI --generate-key`",
        2,
    )


class Downstream:
    """The tool's own client side: exchange the received token, call the downstream API."""

    def __init__(self, config: ExampleConfig, private_jwk: dict[str, Any]) -> None:
        self.config = config
        self.private_jwk = private_jwk
        # The tool's DPoP key: exchanged tokens are bound to it (cnf.jkt), not to the agent's.
        self.dpop_key = DPoPKey.generate()

    async def call(self, subject_token: str, item: str, scope: str) -> dict[str, Any]:
        """Exchange ``subject_token`` for the downstream resource, then GET ``item`` there."""
        # --8<-- [start:exchange]
        async with httpx.AsyncClient(timeout=10.0) as http:
            tool = AsyncIssuerClient(
                self.config.issuer,
                self.config.client_id,
                self.private_jwk,
                http=http,
                dpop_key=self.dpop_key.private_key,
            )
            exchanged = await tool.exchange(
                subject_token, resource=self.config.downstream_uri, scope=scope
            )
            url = self.config.downstream.rstrip("/") + self.config.downstream_path
            response = await http.get(
                url,
                params={"item": item},
                headers={
                    "Authorization": f"DPoP {exchanged.access_token}",
                    "DPoP": self.dpop_key.proof("GET", url, access_token=exchanged.access_token),
                },
            )
        # --8<-- [end:exchange]
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        return {
            "status": response.status_code,
            "body": body,
            "scope": exchanged.scope,
            "act": claims_for_display(exchanged.access_token).get("act", {}),
        }


def build_server(config: ExampleConfig, downstream: Downstream) -> MCPServer:
    # --8<-- [start:server]
    server = MCPServer(
        "mcp-auth-example",
        instructions="Example tool protected by MCP-Auth; get_data calls a downstream API.",
        # The SDK's hook: answers for the principal MCP-Auth verified on this request.
        token_verifier=MCPAuthTokenVerifier(),
        auth=mcp_auth_settings(
            issuer=config.issuer,
            resource=config.resource_uri,
            required_scopes=config.scope.split(),
        ),
    )

    @server.tool()
    async def whoami() -> dict[str, Any]:
        """Who is calling: the user, the grant, the scopes and the delegation chain."""
        token = get_access_token()  # the SDK's own auth context works as well
        if token is None or token.claims is None:
            raise ToolError("not authenticated")
        return {
            "sub": token.subject,
            "client_id": token.client_id,
            "grant_id": token.claims["grant_id"],
            "scopes": token.scopes,
            "chain": chain_of(token.claims["act"]),
        }

    @server.tool()
    async def get_data(item: str = "report") -> dict[str, Any]:
        """Fetch an item from the downstream API on the caller's behalf (token exchange)."""
        principal = current_principal()
        try:
            answer = await downstream.call(current_token(), item, config.scope)
        except IssuerError as exc:
            raise ToolError(f"the issuer refused the exchange: {exc.error}") from None
        except httpx.HTTPError as exc:
            raise ToolError(f"downstream unreachable: {type(exc).__name__}") from None
        return {
            "caller": {"sub": principal.sub, "grant_id": principal.grant_id},
            "received_chain": chain_of(principal.act),
            "downstream": {"status": answer["status"], "body": answer["body"]},
            "downstream_scope": answer["scope"],
            "chain": chain_of(answer["act"]),
        }

    # --8<-- [end:server]
    return server


def build_app(config: ExampleConfig) -> ASGIApp:
    downstream = Downstream(config, tool_private_jwk(config.data_dir, config.client_id))
    server = build_server(config, downstream)
    # --8<-- [start:protect]
    app = protect(
        server.streamable_http_app(host=config.host),
        issuer=config.issuer,
        resource=config.resource_uri,
        required_scopes=config.scope.split(),
        status_max_age=config.status_max_age,
    )
    # --8<-- [end:protect]
    return app


def serve(config: ExampleConfig) -> int:
    try:
        app = build_app(config)
    except ValueError as exc:  # an --issuer or --resource the verifier settings refuse
        raise CliError(f"{exc}: check --issuer and --resource", 2) from None
    sock = listen(config.host, config.port)  # before announcing: a taken port is one line
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    print(
        f"MCP-Auth example MCP server ({config.client_id})\n"
        f"  MCP endpoint   {config.resource_uri}\n"
        f"  issuer         {config.issuer}\n"
        f"  downstream     {config.downstream} (resource {config.downstream_uri})",
        flush=True,
    )
    serve_on(app, sock, access_log=False, log_level="info")
    return 0
