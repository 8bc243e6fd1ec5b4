"""``mcp-auth mcp-example`` and ``mcp-auth mcp-demo-client``: MCP-Auth with the MCP SDK.

``mcp-example`` runs the example MCP server (``example_server.py``): an ``MCPServer`` protected
by MCP-Auth whose tool exchanges the token it received for one to the downstream resource
server. ``mcp-demo-client`` is the agent runtime: it obtains a delegation token under the demo
grant and drives that server with the SDK's own MCP client over streamable HTTP.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mcp_auth.command_parser import examples, http_url, port, seconds
from mcp_auth.reference.verifier.settings import STATUS_MAX_AGE_CAP

DEFAULT_ISSUER = "http://127.0.0.1:8400"
DEFAULT_PORT = 8401
DEFAULT_DOWNSTREAM = "http://127.0.0.1:8402"


def register(subparsers: Any) -> None:
    example = subparsers.add_parser(
        "mcp-example",
        help="run the example MCP server protected by MCP-Auth",
        description=(
            "Run an MCP server (MCP Python SDK, streamable HTTP at /mcp) that accepts only "
            "MCP-Auth delegation tokens (DPoP-bound) and whose tool get_data calls a downstream "
            "resource server by exchanging the token it received (RFC 8693)."
        ),
        epilog=examples(
            "mcp-auth mcp-example --issuer http://127.0.0.1:8400 --data-dir ./demo-data "
            "--port 8401 --downstream http://127.0.0.1:8402"
        ),
    )
    example.add_argument(
        "--issuer", type=http_url, default=DEFAULT_ISSUER, help="issuer URL (%(default)s)"
    )
    example.add_argument(
        "--data-dir",
        type=Path,
        required=True,
        help="the issuer's data directory, where `mcp-auth demo seed` stored the tool's key",
    )
    example.add_argument("--host", default="127.0.0.1", help="address to listen on (%(default)s)")
    example.add_argument(
        "--port", type=port, default=DEFAULT_PORT, help="port to listen on (%(default)s)"
    )
    example.add_argument(
        "--resource",
        type=http_url,
        metavar="URI",
        help="this server's resource identifier (default http://HOST:PORT/mcp)",
    )
    example.add_argument(
        "--client-id",
        default="demo-tool-1",
        help="the tool's client_id at the issuer, used for token exchange (%(default)s)",
    )
    example.add_argument(
        "--downstream",
        type=http_url,
        default=DEFAULT_DOWNSTREAM,
        help="URL of the downstream protected resource server (%(default)s)",
    )
    example.add_argument(
        "--downstream-resource",
        type=http_url,
        metavar="URI",
        help="resource identifier of the downstream server (default: --downstream)",
    )
    example.add_argument(
        "--downstream-path",
        default="/data",
        help="path of the downstream API's protected endpoint (%(default)s)",
    )
    example.add_argument(
        "--scope",
        default="data:read",
        help="scope required at the MCP endpoint and requested downstream (%(default)s)",
    )
    example.add_argument(
        "--status-max-age",
        type=seconds(1, STATUS_MAX_AGE_CAP),
        metavar="SECONDS",
        help="use a fetched status list for at most this many seconds "
        "(default and ceiling: the issuer's mcpa_status_list_max_age)",
    )
    example.set_defaults(handler=_run_example)

    client = subparsers.add_parser(
        "mcp-demo-client",
        help="drive the example MCP server as the demo agent runtime",
        description=(
            "Obtain a delegation token under a grant (as the agent, naming the model), then use "
            "the MCP SDK's client over streamable HTTP to list the server's tools and call one; "
            "print the result and the delegation chain."
        ),
        epilog=examples(
            "mcp-auth mcp-demo-client --issuer http://127.0.0.1:8400 --data-dir ./demo-data",
            "mcp-auth mcp-demo-client --data-dir ./demo-data --tool whoami --json",
        ),
    )
    client.add_argument(
        "--issuer", type=http_url, default=DEFAULT_ISSUER, help="issuer URL (%(default)s)"
    )
    client.add_argument(
        "--data-dir",
        type=Path,
        required=True,
        help="the issuer's data directory, where `mcp-auth demo seed` stored the agent's key",
    )
    client.add_argument(
        "--mcp-url",
        type=http_url,
        default=f"http://127.0.0.1:{DEFAULT_PORT}/mcp",
        help="the MCP endpoint, which is also its resource identifier (%(default)s)",
    )
    client.add_argument(
        "--grant-id", metavar="ID", help="grant to act under (default: the seeded demo grant)"
    )
    client.add_argument("--client-id", default="demo-agent", help="agent client_id (%(default)s)")
    client.add_argument("--model", default="demo-model", help="model id (%(default)s)")
    client.add_argument("--tool", default="get_data", help="tool to call (%(default)s)")
    client.add_argument(
        "--arg",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="tool argument (repeatable; default: none)",
    )
    client.add_argument(
        "--json", action="store_true", help="print one JSON object (default: readable text)"
    )
    client.set_defaults(handler=_run_demo_client)


def _run_example(args: argparse.Namespace) -> int:
    from .example_server import ExampleConfig, serve  # noqa: PLC0415 - loads the MCP SDK

    config = ExampleConfig(
        issuer=args.issuer,
        data_dir=args.data_dir,
        host=args.host,
        port=args.port,
        resource=args.resource,
        client_id=args.client_id,
        downstream=args.downstream,
        downstream_resource=args.downstream_resource,
        downstream_path=args.downstream_path,
        scope=args.scope,
        status_max_age=args.status_max_age,
    )
    return serve(config)


def _run_demo_client(args: argparse.Namespace) -> int:
    from .demo_client import main_from_args  # noqa: PLC0415 - loads the MCP SDK

    return main_from_args(args)
