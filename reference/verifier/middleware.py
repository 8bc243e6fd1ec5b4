"""Pure-ASGI middleware and a scope-requirement helper (MCPA-VER-030, MCPA-DSC-006).

``MCPAuthMiddleware(app, verifier, *, required_scopes=None, scopes_for=None,
exempt_paths=(), public_origin=None)``
    Runs step 1 (``extract_credentials``) and ``Verifier.verify`` for every HTTP and
    WebSocket request except the RFC 9728 metadata path and ``exempt_paths``. On
    success the principal is at ``scope["mcp_auth.principal"]`` (``get_principal``),
    ``scope["user"]`` and ``scope["auth"]`` (Starlette ``AuthCredentials``). On failure
    it answers exactly the spec's forms: ``WWW-Authenticate: DPoP error=...,
    error_description=..., [scope=...,] algs="ES256 Ed25519", resource_metadata=...``
    with a JSON body ``{"error","error_description"}``, ``Cache-Control: no-store``;
    a request without ``Authorization`` gets the bare challenge and an empty body.
    Internal detail (requirement, detail) is logged, never sent. Anything other than a
    typed error inside verification becomes 500 ``server_error`` with a generic text.
    The ``htu`` target URI is ``public_origin`` (default: the origin of the resource
    identifier) plus the request path as received; ``Host`` and ``X-Forwarded-*`` are
    not trusted. ``scopes_for(scope)`` may return per-request required scopes.
``require_scopes(*scopes)``
    Decorator for Starlette endpoints behind the middleware: answers 403
    ``insufficient_scope`` with the ``scope`` challenge parameter unless the principal
    has every scope.
``www_authenticate(error, *, settings, scope=None)`` / ``error_response(error, ...)``
    The header value and a Starlette ``Response`` for a typed error.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Awaitable, Callable, Collection
from typing import Any
from urllib.parse import urlsplit

from starlette.authentication import AuthCredentials
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_auth.reference.errors import (
    InsufficientScope,
    OAuthError,
    ServerError,
    TemporarilyUnavailable,
)
from mcp_auth.reference.jose import advertised_algs
from mcp_auth.reference.verifier.extract import extract_credentials
from mcp_auth.reference.verifier.metadata import resource_metadata_path
from mcp_auth.reference.verifier.principal import Principal
from mcp_auth.reference.verifier.settings import VerifierSettings, scope_set
from mcp_auth.reference.verifier.verifier import Verifier

log = logging.getLogger("mcp_auth.reference.verifier")

PRINCIPAL_KEY = "mcp_auth.principal"
SETTINGS_KEY = "mcp_auth.settings"
#: An outer middleware may put a dict here; refusals record error/requirement/detail in it.
REFUSAL_KEY = "mcp_auth.refusal"
RETRY_AFTER = "5"
_UNSAFE = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


def _quoted(value: str) -> str:
    return '"' + _UNSAFE.sub(" ", value) + '"'


def www_authenticate(
    error: OAuthError | None, *, settings: VerifierSettings, scope: str | None = None
) -> str:
    """The ``WWW-Authenticate`` value; ``error=None`` gives the bare challenge."""
    params: list[str] = []
    if error is not None:
        params.append(f"error={_quoted(error.error)}")
        params.append(f"error_description={_quoted(error.description)}")
        if scope is not None and isinstance(error, InsufficientScope):
            params.append(f"scope={_quoted(scope)}")
    params.append(f"algs={_quoted(' '.join(advertised_algs(settings.allowed_algs)))}")
    params.append(f"resource_metadata={_quoted(settings.resource_metadata_url)}")
    return "DPoP " + ", ".join(params)


def _error_parts(
    error: OAuthError | None, settings: VerifierSettings, scope: str | None
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    headers = [
        (b"www-authenticate", www_authenticate(error, settings=settings, scope=scope).encode()),
        (b"cache-control", b"no-store"),
    ]
    if error is None:
        return 401, [*headers, (b"content-length", b"0")], b""
    body = json.dumps(error.body(), separators=(",", ":")).encode()
    headers += [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if isinstance(error, TemporarilyUnavailable):
        headers.append((b"retry-after", RETRY_AFTER.encode()))
    return error.status, headers, body


def error_response(
    error: OAuthError | None, *, settings: VerifierSettings, scope: str | None = None
) -> Response:
    """A Starlette response for a typed error (``None``: no credentials)."""
    status, headers, body = _error_parts(error, settings, scope)
    response = Response(body, status_code=status)
    response.raw_headers = headers
    return response


def get_principal(conn: HTTPConnection | Scope) -> Principal | None:
    """The principal the middleware verified for this request, if any."""
    scope = conn.scope if isinstance(conn, HTTPConnection) else conn
    principal = scope.get(PRINCIPAL_KEY)
    return principal if isinstance(principal, Principal) else None


def _log_failure(error: OAuthError, scope: Scope) -> None:
    record = scope.get(REFUSAL_KEY)
    if isinstance(record, dict):
        record.update(error=error.error, requirement=error.requirement, detail=error.detail or "")
    log.info(
        "refused %s %s: %s %s (%s) %s",
        scope.get("method", "WS"),
        scope.get("path", ""),
        error.status,
        error.error,
        error.requirement,
        error.detail or "",
    )


class MCPAuthMiddleware:
    """Protect an ASGI app with MCP-Auth verification (see the module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        verifier: Verifier,
        *,
        required_scopes: Collection[str] | str | None = None,
        scopes_for: Callable[[Scope], Collection[str] | None] | None = None,
        exempt_paths: Collection[str] = (),
        public_origin: str | None = None,
    ) -> None:
        self.app = app
        self.verifier = verifier
        settings = verifier.settings
        self.required_scopes = (
            settings.required_scopes if required_scopes is None else scope_set(required_scopes)
        )
        self.scopes_for = scopes_for
        self.exempt_paths = frozenset(exempt_paths) | {resource_metadata_path(settings.resource)}
        if public_origin is None:
            parts = urlsplit(settings.resource)
            public_origin = f"{parts.scheme}://{parts.netloc}"
        self.public_origin = public_origin.rstrip("/")

    def _target_uri(self, scope: Scope) -> str:
        raw = scope.get("raw_path")
        path = raw.decode("latin-1") if isinstance(raw, bytes | bytearray) else scope["path"]
        return self.public_origin + path.split("?", 1)[0]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        settings = self.verifier.settings
        required = self.required_scopes
        failure: OAuthError | None
        try:
            if self.scopes_for is not None:
                extra = self.scopes_for(scope)
                if extra is not None:
                    required = scope_set(extra)
            credentials = extract_credentials(scope["headers"])
            if credentials is None:
                principal = None
                failure = None
            else:
                principal = await self.verifier.verify(
                    credentials.token,
                    credentials.proof,
                    method=scope.get("method", "GET"),
                    url=self._target_uri(scope),
                    required_scopes=required,
                )
        except OAuthError as error:
            _log_failure(error, scope)
            principal, failure = None, error
        except Exception:
            log.exception("verifier failure on %s", scope.get("path", ""))
            principal = None
            failure = ServerError("internal error", requirement="MCPA-GEN-002")
            _log_failure(failure, scope)
        if principal is None:
            await self._refuse(
                scope, send, error=failure, settings=settings, required=" ".join(sorted(required))
            )
            return
        # Outside the try: errors of the application are the application's.
        inner = dict(scope)
        inner[PRINCIPAL_KEY] = principal
        inner[SETTINGS_KEY] = settings
        inner["user"] = principal
        inner["auth"] = AuthCredentials(sorted(principal.scopes))
        await self.app(inner, receive, send)

    async def _refuse(
        self,
        scope: Scope,
        send: Send,
        *,
        error: OAuthError | None,
        settings: VerifierSettings,
        required: str,
    ) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        status, headers, body = _error_parts(error, settings, required)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


Endpoint = Callable[[Request], Awaitable[Response]]


def require_scopes(*scopes: str) -> Callable[[Endpoint], Endpoint]:
    """Endpoint decorator: 403 ``insufficient_scope`` unless the principal has ``scopes``."""
    needed = frozenset(scopes)

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def wrapper(request: Request) -> Response:
            principal = get_principal(request)
            settings: Any = request.scope.get(SETTINGS_KEY)
            if principal is None or not isinstance(settings, VerifierSettings):
                log.error("require_scopes used on a route the middleware does not protect")
                return Response(
                    json.dumps(ServerError("internal error").body()),
                    status_code=500,
                    media_type="application/json",
                )
            if not needed <= principal.scopes:
                error = InsufficientScope(
                    "the operation needs more scope", requirement="MCPA-VER-027"
                )
                return error_response(error, settings=settings, scope=" ".join(sorted(needed)))
            return await endpoint(request)

        return wrapper

    return decorate
