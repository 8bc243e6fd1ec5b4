"""``mcp-auth resource-server``: a small downstream API protected by the reference Verifier.

    mcp-auth resource-server --issuer http://127.0.0.1:8400 \\
        --resource http://127.0.0.1:8402/data --scope "files:read" \\
        [--host 127.0.0.1] [--port 8402] [--path /data]

The conformance suite and the end-to-end tests run it as the "verifier under test". It
serves RFC 9728 metadata at the path-inserted well-known URL and, at ``--path`` (any
method), JSON ``{"ok": true, "resource", "method", "principal": {sub, grant_id,
client_id, scopes, chain, jti, exp}}`` for a request that passes all fifteen steps with
the ``--scope`` scopes required. One log line per request: method, path, status, and for
refusals the requirement ID.

``build_app(settings, *, path="/data", verifier=None) -> Starlette`` builds the same app
for embedding and tests.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_auth.command_errors import CliError
from mcp_auth.command_parser import examples, http_url, port, seconds
from mcp_auth.listen import listen, serve
from mcp_auth.reference.verifier import (
    MCPAuthMiddleware,
    Verifier,
    VerifierSettings,
    get_principal,
    metadata_route,
)
from mcp_auth.reference.verifier.middleware import REFUSAL_KEY
from mcp_auth.reference.verifier.settings import MAX_SKEW, scope_set

log = logging.getLogger("mcp_auth.reference.resource_server")

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


class AccessLog:
    """One line per HTTP request: method, path, status, duration, refusal requirement."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        refusal: dict[str, Any] = {}
        status = [0]

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app({**scope, REFUSAL_KEY: refusal}, receive, recording_send)
        finally:
            extra = f" {refusal.get('error')} {refusal.get('requirement')}" if refusal else ""
            log.info(
                "%s %s %d %.1fms%s",
                scope.get("method"),
                scope.get("path"),
                status[0],
                (time.perf_counter() - start) * 1000,
                extra,
            )


def build_app(
    settings: VerifierSettings, *, path: str = "/data", verifier: Verifier | None = None
) -> Starlette:
    """The protected API: RFC 9728 metadata plus one protected endpoint at ``path``."""
    owned = verifier is None
    the_verifier = verifier if verifier is not None else Verifier(settings)

    async def protected(request: Request) -> JSONResponse:
        principal = get_principal(request)
        assert principal is not None  # the middleware guarantees it
        return JSONResponse(
            {
                "ok": True,
                "resource": settings.resource,
                "method": request.method,
                "principal": principal.to_json(),
            },
            headers={"Cache-Control": "no-store"},
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        del app
        try:
            yield
        finally:
            if owned:
                await the_verifier.aclose()

    return Starlette(
        routes=[metadata_route(settings), Route(path, protected, methods=METHODS)],
        middleware=[
            Middleware(AccessLog),
            Middleware(
                MCPAuthMiddleware,
                verifier=the_verifier,
                required_scopes=settings.required_scopes,
            ),
        ],
        lifespan=lifespan,
    )


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "resource-server",
        help="run a downstream API protected by the reference verifier",
        description="A small downstream API protected by the reference MCP-Auth verifier.",
        epilog=examples(
            "mcp-auth resource-server --issuer http://127.0.0.1:8400 "
            "--resource http://127.0.0.1:8402 --scope data:read --port 8402"
        ),
    )
    parser.add_argument(
        "--issuer",
        required=True,
        type=http_url,
        metavar="URL",
        help="issuer identifier (exact string)",
    )
    parser.add_argument(
        "--resource",
        required=True,
        type=http_url,
        metavar="URI",
        help="this resource's identifier (aud)",
    )
    parser.add_argument(
        "--scope",
        required=True,
        action="append",
        help="scope the endpoint requires (space-separated; may repeat)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=port, default=8402, help="port to listen on")
    parser.add_argument("--path", default="/data", help="path of the protected endpoint")
    parser.add_argument(
        "--skew",
        type=seconds(0, MAX_SKEW),
        default=30,
        help=f"clock skew in seconds, 0 to {MAX_SKEW}",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=("critical", "error", "warning", "info", "debug"),
        help="log level",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    scopes: frozenset[str] = frozenset().union(*(scope_set(s) for s in args.scope))
    if not scopes:
        raise CliError("--scope names no scope: give the scope the endpoint requires", 2)
    try:
        settings = VerifierSettings(
            issuer=args.issuer,
            resource=args.resource,
            required_scopes=scopes,
            skew=args.skew,
            scopes_supported=tuple(sorted(scopes)),
        )
    except ValueError as exc:
        raise CliError(str(exc), 2) from None
    if not args.path.startswith("/"):
        raise CliError(f"--path {args.path!r} must start with /, e.g. --path /data", 2)
    sock = listen(args.host, args.port)  # before announcing: a taken port is one line
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s", stream=sys.stderr
    )
    logging.getLogger("mcp_auth.reference.verifier").setLevel(logging.WARNING)
    app = build_app(settings, path=args.path)
    log.info(
        "resource server for %s (issuer %s, scope %r) on http://%s:%d%s",
        settings.resource,
        settings.issuer,
        " ".join(sorted(scopes)),
        args.host,
        args.port,
        args.path,
    )
    serve(app, sock, log_level=args.log_level, access_log=False)
    return 0
