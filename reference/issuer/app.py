"""The Starlette application: ``create_app(settings)``.

Routes are CONTRACT.md section 3. Errors: an ``OAuthError`` becomes its JSON body and
status (``detail`` logged, never sent); 404/405 come in the same OAuth JSON form; anything
unexpected is logged with its traceback and answered 500 ``server_error`` with a generic
description (MCPA-GEN-002). One log line per request.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import NotFound, OAuthError
from . import consent, grants_api
from .clients import load_config
from .context import IssuerContext, SqliteReplayCache
from .descriptions import load_config_descriptions
from .http import NO_STORE, error_response, json_response
from .introspection import introspection_endpoint
from .keys import JWKS_MAX_AGE, KeyStore, write_private_file
from .metadata import DISCOVERY_CACHE_CONTROL, issuer_metadata
from .revocation import revocation_endpoint
from .settings import Settings
from .status_allocation import configure as configure_allocation
from .status_list import MEDIA_TYPE, TOKEN_VALIDITY, SignedLists
from .storage import Database
from .token_endpoint import token_endpoint

log = logging.getLogger("mcp_auth.issuer")
access_log = logging.getLogger("mcp_auth.issuer.access")
GENERIC_500 = {"error": "server_error", "error_description": "internal server error"}
GENERIC_503 = {
    "error": "temporarily_unavailable",
    "error_description": "storage is unavailable, try again later",
}


@dataclass(frozen=True)
class DataDir:
    """What ``open_data_dir`` found or created."""

    db: Database
    keys: KeyStore
    admin_token: str
    created_keys: bool
    created_admin_token: bool


def key_retention(settings: Settings) -> int:
    """How long a retired key stays published: the longest lifetime of what it signed."""
    return max(settings.max_token_lifetime, TOKEN_VALIDITY) + 60


def open_data_dir(settings: Settings) -> DataDir:
    """Create the data directory (0700), database, signing keys and admin token if missing."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.data_dir.chmod(0o700)
    db = Database(settings.db_path)
    configure_allocation(db, settings.status_list_size, settings.status_list_retire_margin)
    keys = KeyStore(settings.keys_dir, retention=key_retention(settings))
    created_keys = bool(keys.ensure())
    path: Path = settings.admin_token_path
    created_token = False
    if not path.exists():
        write_private_file(path, secrets.token_urlsafe(32) + "\n")
        created_token = True
    admin_token = path.read_text(encoding="utf-8").strip()
    return DataDir(db, keys, admin_token, created_keys, created_token)


# -- small endpoints ----------------------------------------------------------------------
async def metadata_endpoint(request: Request) -> Response:
    ctx: IssuerContext = request.app.state.ctx
    return json_response(issuer_metadata(ctx.settings), cache=DISCOVERY_CACHE_CONTROL)


async def jwks_endpoint(request: Request) -> Response:
    ctx: IssuerContext = request.app.state.ctx
    return json_response(ctx.keys.jwks(), cache=f"public, max-age={JWKS_MAX_AGE}")


async def status_endpoint(request: Request) -> Response:
    """``GET /status/{list_id}``: the held signed list (MCPA-REV-011, MCPA-REV-019).

    Unknown and retired lists alike answer 404 ``not_found`` (MCPA-REV-018).
    """
    ctx: IssuerContext = request.app.state.ctx
    list_id = request.path_params["list_id"]
    now = int(time.time())
    held = ctx.signed_lists.get(list_id, now) if len(list_id) <= 64 else None
    if held is None:
        raise NotFound("no such status list", requirement="MCPA-REV-018")
    headers = {
        "Cache-Control": f"public, max-age={held.max_age(ctx.settings, now)}",
        "ETag": held.etag,
    }
    match = request.headers.get("if-none-match", "")
    if held.etag in (tag.strip() for tag in match.split(",")):
        return Response(status_code=304, headers=headers)
    return Response(held.token, media_type=MEDIA_TYPE, headers=headers)


# -- error handling -----------------------------------------------------------------------
async def oauth_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OAuthError)
    log.info(
        "%s %s -> %s %s (%s): %s",
        request.method,
        request.url.path,
        exc.status,
        exc.error,
        exc.requirement,
        exc.detail or exc.description,
    )
    headers: dict[str, str] = {}
    if exc.status == 401 and request.url.path.startswith(("/grants", "/admin")):
        headers = grants_api.BEARER_CHALLENGE
    return error_response(exc, headers=headers)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        body = {"error": "not_found", "error_description": "no such endpoint"}
    elif exc.status_code == 405:
        body = {"error": "invalid_request", "error_description": "method not allowed"}
    else:
        body = {"error": "invalid_request", "error_description": "bad request"}
    headers = dict(NO_STORE)
    if exc.headers:
        headers.update(exc.headers)
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


class RequestLogMiddleware:
    """Pure ASGI: one access-log line per request; unexpected exceptions become a 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state: dict[str, Any] = {"status": 0, "sent": False}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                state["sent"] = True
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except sqlite3.Error:
            # Storage unavailable: nothing was acknowledged; the client may retry
            # (MCPA-AUD-009: no token is returned without its durable audit event).
            log.exception("storage error on %s %s", scope.get("method"), scope.get("path"))
            if not state["sent"]:
                response = JSONResponse(GENERIC_503, status_code=503, headers=NO_STORE)
                await response(scope, receive, send_wrapper)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if not state["sent"]:
                response = JSONResponse(GENERIC_500, status_code=500, headers=NO_STORE)
                await response(scope, receive, send_wrapper)
        finally:
            client = scope.get("client")
            access_log.info(
                '%s "%s %s" %s %.1fms',
                client[0] if client else "-",
                scope.get("method"),
                scope.get("path"),
                state["status"],
                (time.perf_counter() - started) * 1000,
            )


def create_app(settings: Settings) -> Starlette:
    """Build the issuer; creates the data directory, keys and admin token when missing."""
    data = open_data_dir(settings)
    if settings.config_file is not None:
        load_config(data.db, settings.config_file)
        load_config_descriptions(data.db, settings.config_file)
    ctx = IssuerContext(
        settings=settings,
        db=data.db,
        keys=data.keys,
        replay_cache=SqliteReplayCache(data.db),
        admin_token=data.admin_token,
        signed_lists=SignedLists(data.db, data.keys, settings),
    )
    endpoint = Callable[[Request], Awaitable[Response]]
    routes: list[tuple[str, endpoint, list[str]]] = [
        ("/.well-known/oauth-authorization-server", metadata_endpoint, ["GET"]),
        ("/jwks", jwks_endpoint, ["GET"]),
        ("/token", token_endpoint, ["POST"]),
        ("/revoke", revocation_endpoint, ["POST"]),
        ("/introspect", introspection_endpoint, ["POST"]),
        ("/status/{list_id}", status_endpoint, ["GET"]),
        ("/grants", grants_api.grants_collection, ["GET", "POST"]),
        ("/grants/{grant_id}", grants_api.grant_dispatch, ["GET", "DELETE"]),
        ("/grants/{grant_id}/events", grants_api.grant_events, ["GET"]),
        ("/admin/clients", grants_api.admin_clients, ["GET", "POST"]),
        ("/admin/clients/{client_id}", grants_api.admin_client, ["GET", "DELETE"]),
        ("/consent", consent.consent_home, ["GET"]),
        ("/consent/login", consent.consent_login, ["POST"]),
        ("/consent/logout", consent.consent_logout, ["POST"]),
        ("/consent/grants/{grant_id}", consent.consent_grant, ["GET"]),
        ("/consent/grants/{grant_id}/{action}", consent.consent_action, ["POST"]),
        ("/consent/grants/{grant_id}/{action}", consent.consent_confirm, ["GET"]),
    ]
    app = Starlette(
        routes=[Route(path, fn, methods=methods) for path, fn, methods in routes],
        exception_handlers={OAuthError: oauth_error_handler, HTTPException: http_error_handler},
    )
    app.add_middleware(RequestLogMiddleware)
    app.state.ctx = ctx
    return app
