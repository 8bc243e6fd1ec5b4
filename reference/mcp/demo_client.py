"""The demo agent runtime: a delegation token under a grant, then the MCP SDK's own client.

``run_demo`` is what ``mcp-auth mcp-demo-client`` runs:

1. As the agent client (``demo-agent``, ``private_key_jwt`` with its key from the data
   directory), ask the issuer for a delegation token under the grant, for the MCP server's
   resource identifier, naming the model (``demo-model``); the token is bound to a fresh DPoP
   key of this process.
2. Open the SDK's ``mcp.client.Client`` over ``mcp.client.streamable_http.streamable_http_client``
   with an ``httpx2.AsyncClient(auth=DPoPAuth(token, key))``: every HTTP request of the MCP
   session carries ``Authorization: DPoP <token>`` and a fresh proof for that request.
3. List the tools, call one, and return the result (the tool's JSON: downstream data and the
   chain of the token it used downstream).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import httpx2
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, TextContent

from mcp_auth.command_errors import CliError

from ..issuer.client import AsyncIssuerClient, IssuerError, TokenResponse, load_private_jwk
from .adapter import chain_of, claims_for_display
from .dpop_auth import DPoPAuth, DPoPKey

__all__ = ["DemoResult", "connect", "demo_state", "obtain_token", "run_demo", "tool_payload"]


def demo_state(data_dir: Path) -> dict[str, Any]:
    """The state ``mcp-auth demo seed`` wrote (``<data-dir>/demo/demo.json``)."""
    path = Path(data_dir) / "demo" / "demo.json"
    try:
        state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CliError(
            f"no demo state at {path}: check --data-dir, or run `mcp-auth demo seed "
            f"--data-dir {data_dir}` first",
            2,
        ) from None
    except (OSError, ValueError) as exc:
        raise CliError(
            f"cannot read the demo state {path} ({exc}): run `mcp-auth demo seed` again", 2
        ) from None
    if not isinstance(state, dict):
        raise CliError(f"{path} is not a demo state: run `mcp-auth demo seed` again", 2)
    return state


def agent_key_file(state: dict[str, Any], client_id: str) -> Path:
    agent = state.get("agent", {})
    if agent.get("client_id") != client_id:
        raise CliError(
            f"the demo state has no key for agent {client_id!r}: give the seeded agent's "
            f"--client-id ({agent.get('client_id')})",
            2,
        )
    return Path(agent["private_jwk_file"])


async def obtain_token(
    *,
    issuer: str,
    client_id: str,
    private_jwk: dict[str, Any],
    grant_id: str,
    resource: str,
    model: str,
    dpop_key: DPoPKey,
    scope: str | None = None,
) -> TokenResponse:
    """Issuance under a grant (``urn:ietf:params:oauth:grant-type:mcpa-grant``)."""
    async with httpx.AsyncClient(timeout=10.0) as http:
        agent = AsyncIssuerClient(
            issuer, client_id, private_jwk, http=http, dpop_key=dpop_key.private_key
        )
        return await agent.issue(grant_id, resource, model, scope=scope)


# The SDK's own defaults for its transports (30 s, and 300 s to read a response stream).
MCP_TIMEOUT = httpx2.Timeout(30.0, read=300.0)


def connect(url: str, auth: DPoPAuth) -> tuple[Client, httpx2.AsyncClient]:
    """An SDK ``Client`` for ``url`` whose HTTP requests all carry DPoP; close both."""
    http = httpx2.AsyncClient(auth=auth, timeout=MCP_TIMEOUT)
    return Client(streamable_http_client(url, http_client=http)), http


def tool_payload(result: CallToolResult) -> Any:
    """The tool's JSON result: ``structured_content`` or the JSON text of the first block."""
    if result.structured_content is not None:
        return result.structured_content
    for block in result.content:
        if isinstance(block, TextContent):
            try:
                return json.loads(block.text)
            except ValueError:
                return block.text
    return None


@dataclass
class DemoResult:
    tools: list[str]
    token_chain: list[dict[str, str]]
    result: Any
    is_error: bool
    token: TokenResponse = field(repr=False)


async def run_demo(
    *,
    issuer: str,
    mcp_url: str,
    client_id: str,
    private_jwk: dict[str, Any],
    grant_id: str,
    model: str,
    tool: str,
    arguments: dict[str, Any] | None = None,
) -> DemoResult:
    key = DPoPKey.generate()
    token = await obtain_token(
        issuer=issuer,
        client_id=client_id,
        private_jwk=private_jwk,
        grant_id=grant_id,
        resource=mcp_url,
        model=model,
        dpop_key=key,
    )
    # --8<-- [start:client]
    http = httpx2.AsyncClient(auth=DPoPAuth(token.access_token, key), timeout=MCP_TIMEOUT)
    async with http, Client(streamable_http_client(mcp_url, http_client=http)) as client:
        listed = await client.list_tools()
        result = await client.call_tool(tool, arguments or {})
    # --8<-- [end:client]
    return DemoResult(
        tools=[t.name for t in listed.tools],
        token_chain=chain_of(claims_for_display(token.access_token).get("act")),
        result=tool_payload(result),
        is_error=bool(result.is_error),
        token=token,
    )


def _arguments(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise CliError(f"--arg wants NAME=VALUE, got {pair!r}", 2)
        out[name] = value
    return out


def _leaf(exc: BaseException) -> BaseException:
    """The first exception inside the exception groups the SDK's task groups raise."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _hops(chain: list[dict[str, str]]) -> str:
    return " -> ".join(
        f"{h['actor_type']}:{h['sub']}"
        + (f" (model {h['mcpa_model']})" if "mcpa_model" in h else "")
        for h in chain
    )


def main_from_args(args: argparse.Namespace) -> int:
    state = demo_state(args.data_dir)
    grant_id = args.grant_id or state.get("grant_id")
    if not isinstance(grant_id, str) or not grant_id:
        raise CliError("no grant to act under: give --grant-id, or run `mcp-auth demo seed`", 2)
    arguments = _arguments(args.arg)
    key_file = agent_key_file(state, args.client_id)
    try:
        private_jwk = load_private_jwk(key_file)
    except (OSError, ValueError) as exc:
        raise CliError(
            f"cannot load the agent's key {key_file} ({exc}): run `mcp-auth demo seed` again", 2
        ) from None
    try:
        demo = asyncio.run(
            run_demo(
                issuer=args.issuer,
                mcp_url=args.mcp_url,
                client_id=args.client_id,
                private_jwk=private_jwk,
                grant_id=grant_id,
                model=args.model,
                tool=args.tool,
                arguments=arguments,
            )
        )
    except IssuerError as exc:
        raise CliError(f"the issuer refused the token request: {exc}", 1) from None
    except httpx.TransportError as exc:
        raise CliError(
            f"cannot reach the issuer at {args.issuer} ({exc or type(exc).__name__}): start it "
            f"with `mcp-auth serve --data-dir {args.data_dir}`, or give its address with --issuer",
            1,
        ) from None
    except Exception as exc:
        leaf = _leaf(exc)
        if not isinstance(leaf, httpx2.TransportError):
            raise
        raise CliError(
            f"cannot reach the MCP server at {args.mcp_url} ({leaf or type(leaf).__name__}): "
            f"start it with `mcp-auth mcp-example --data-dir {args.data_dir}`, or give its "
            "address with --mcp-url",
            1,
        ) from None
    if args.json:
        print(
            json.dumps(
                {
                    "tools": demo.tools,
                    "token_chain": demo.token_chain,
                    "is_error": demo.is_error,
                    "result": demo.result,
                },
                indent=2,
            )
        )
    else:
        print(f"delegation token for {args.mcp_url}: chain {_hops(demo.token_chain)}")
        print(f"tools: {', '.join(demo.tools)}")
        print(f"{args.tool} ->")
        print(json.dumps(demo.result, indent=2))
        result = demo.result if isinstance(demo.result, dict) else {}
        downstream_chain = result.get("chain") if "downstream" in result else None
        if isinstance(downstream_chain, list):
            print(f"downstream chain: {_hops(downstream_chain)}")
    return 1 if demo.is_error else 0
