"""MCP-Auth for the MCP Python SDK: the reference verifier behind the SDK's auth hooks.

How the SDK (``mcp`` 2.x) protects a server. Given ``token_verifier=`` and
``auth=AuthSettings(...)``, ``MCPServer.streamable_http_app()`` (which delegates to
``mcp.server.lowlevel.server.Server.streamable_http_app``) builds a Starlette app with

1. Starlette's ``AuthenticationMiddleware`` with
   ``mcp.server.auth.middleware.bearer_auth.BearerAuthBackend``: reads
   ``Authorization: Bearer <token>`` (any other scheme counts as no credentials) and calls
   ``TokenVerifier.verify_token(token)``;
2. ``mcp.server.auth.middleware.auth_context.AuthContextMiddleware``: puts the resulting
   ``AuthenticatedUser`` in a context variable, read by ``get_access_token()``;
3. ``mcp.server.auth.middleware.bearer_auth.RequireAuthMiddleware`` around the MCP endpoint:
   401/403 with a ``Bearer`` challenge;
4. ``mcp.server.auth.routes.create_protected_resource_routes``: RFC 9728 metadata.

Why that is not enough. An MCP-Auth token is DPoP-bound (RFC 9449): it arrives as
``Authorization: DPoP <token>`` with a ``DPoP`` proof signed over this request's method and
URL, and it proves nothing without that proof. ``verify_token(token)`` never sees the request,
so it cannot check the proof; the SDK's challenges are ``Bearer`` challenges; its metadata lacks
``dpop_bound_access_tokens_required`` and ``mcpa_version``.

What ``protect()`` does instead, as one pure ASGI app in front of the SDK's app:

* serves the reference verifier's RFC 9728 document on the metadata path (shadowing the
  SDK's route of the same path), naming the issuer in ``authorization_servers``;
* runs the reference ``MCPAuthMiddleware`` on everything else: step 1 and the whole
  verification algorithm (token, DPoP proof against this very request, replay, chain, scope,
  status), answering failures with the specification's 401 / 403 / 400 / 503 and
  ``WWW-Authenticate: DPoP ...`` forms;
* for a verified request, records the principal for this request (a context variable) and
  passes the request to the SDK's app with the token relabelled ``Bearer``, so the SDK's own
  stack above runs unchanged: ``BearerAuthBackend`` calls ``MCPAuthTokenVerifier.verify_token``,
  which answers with the ``AccessToken`` of the principal just verified, and ``None`` for any
  other token. Session binding (``StreamableHTTPSessionManager`` compares the principal that
  opened a session), ``RequireAuthMiddleware`` (scope backstop) and ``get_access_token()``
  then work as for any verifier.

``MCPAuthTokenVerifier`` never accepts a token on its own: an SDK app mounted without
``protect()`` in front refuses every request.

In a tool handler, ``current_principal()`` gives the verified ``Principal`` (user, grant,
chain, scopes, claims) and ``current_token()`` the token itself, which a tool needs as the
``subject_token`` of its own exchange and must never forward. The SDK's ``get_access_token()``
returns the same principal as an ``AccessToken`` whose ``claims`` are the verified claims
(``act``, ``grant_id``, ``iss``, ...). The SDK runs handlers in a task of the session, copying
the context of the HTTP request that carried the message
(``mcp.shared.jsonrpc_dispatcher``), so both are per request, not per session.

Wiring::

    server = MCPServer(
        "my-tool",
        token_verifier=MCPAuthTokenVerifier(),
        auth=mcp_auth_settings(issuer=ISSUER, resource=RESOURCE),
    )
    app = protect(server.streamable_http_app(), issuer=ISSUER, resource=RESOURCE)
    uvicorn.run(app, host="127.0.0.1", port=8401)
"""

from __future__ import annotations

import contextvars
import hmac
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.settings import AuthSettings
from pydantic import AnyHttpUrl
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..jose import JoseError, b64url_decode
from ..verifier import (
    MCPAuthMiddleware,
    Principal,
    Verifier,
    VerifierSettings,
    get_principal,
    metadata_route,
    resource_metadata_path,
)
from ..verifier.extract import extract_credentials

__all__ = [
    "MCPAuthASGI",
    "MCPAuthTokenVerifier",
    "access_token_for",
    "chain_of",
    "claims_for_display",
    "current_access_token",
    "current_principal",
    "current_token",
    "mcp_auth_settings",
    "protect",
]


def chain_of(act: Mapping[str, Any] | None) -> list[dict[str, str]]:
    """Flatten a nested ``act`` object into hops, first actor (innermost) first; a hop
    keeps the ``mcpa_model`` it named (draft-01: the model is a hop attribute)."""
    hops: list[dict[str, str]] = []
    node: Any = act
    while isinstance(node, Mapping) and len(hops) < 64:
        hop = {"actor_type": str(node.get("actor_type")), "sub": str(node.get("sub"))}
        if isinstance(node.get("mcpa_model"), str):
            hop["mcpa_model"] = node["mcpa_model"]
        hops.append(hop)
        node = node.get("act")
    hops.reverse()
    return hops


def claims_for_display(token: str) -> dict[str, Any]:
    """The payload of a token its holder just received from the issuer, *unverified*.

    For showing a holder what it was given (its chain, say); never for deciding anything.
    """
    try:
        claims = json.loads(b64url_decode(token.split(".")[1]))
    except (JoseError, ValueError, IndexError):
        return {}
    return claims if isinstance(claims, dict) else {}


def access_token_for(principal: Principal, token: str) -> AccessToken:
    """The SDK's ``AccessToken`` for a verified principal; ``claims`` = all verified claims."""
    return AccessToken(
        token=token,
        client_id=principal.client_id,
        scopes=sorted(principal.scopes),
        expires_at=principal.exp,
        resource=str(principal.claims["aud"]),
        subject=principal.sub,
        claims=dict(principal.claims),
    )


@dataclass(frozen=True, slots=True)
class _Verified:
    principal: Principal
    token: str


# Set by ``protect()``'s bridge in the request's task, for that request only.
_current: contextvars.ContextVar[_Verified | None] = contextvars.ContextVar(
    "mcp_auth_verified", default=None
)


def _verified() -> _Verified:
    current = _current.get()
    if current is None:
        raise LookupError("no MCP-Auth principal: this request did not pass through protect()")
    return current


def current_principal() -> Principal:
    """The verified caller of the request being handled (``LookupError`` outside one)."""
    return _verified().principal


def current_token() -> str:
    """The verified delegation token of this request: the ``subject_token`` to exchange."""
    return _verified().token


def current_access_token() -> AccessToken | None:
    """The SDK's ``AccessToken`` view of the current principal, or ``None``."""
    current = _current.get()
    return None if current is None else access_token_for(current.principal, current.token)


class MCPAuthTokenVerifier(TokenVerifier):
    """The SDK's ``TokenVerifier`` hook, answering only for what MCP-Auth verified.

    ``verify_token`` returns the ``AccessToken`` of the principal ``protect()`` verified on
    the current request when ``token`` is that request's token, else ``None``.
    """

    async def verify_token(self, token: str) -> AccessToken | None:
        current = _current.get()
        if current is None or not hmac.compare_digest(current.token.encode(), token.encode()):
            return None
        return access_token_for(current.principal, current.token)


def mcp_auth_settings(
    *, issuer: str, resource: str, required_scopes: Collection[str] = ()
) -> AuthSettings:
    """``AuthSettings`` for an ``MCPServer`` protected by MCP-Auth.

    ``validate_token_resource=True``: the SDK checks ``AccessToken.resource`` (the token's
    ``aud``) against ``resource`` once more; ``required_scopes`` is its scope backstop (the
    verifier has already answered 403 ``insufficient_scope`` in the MCP-Auth form).
    """
    return AuthSettings(
        issuer_url=AnyHttpUrl(issuer),
        resource_server_url=AnyHttpUrl(resource),
        required_scopes=sorted(required_scopes) or None,
        validate_token_resource=True,
    )


class _Bridge:
    """Between the reference middleware and the SDK app: principal in, ``Bearer`` out."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = get_principal(scope) if scope["type"] == "http" else None
        credentials = extract_credentials(scope["headers"]) if principal is not None else None
        if principal is None or credentials is None:
            await self.app(scope, receive, send)
            return
        headers = [(k, v) for k, v in scope["headers"] if k != b"authorization"]
        headers.append((b"authorization", b"Bearer " + credentials.token.encode("ascii")))
        reset = _current.set(_Verified(principal, credentials.token))
        try:
            await self.app({**scope, "headers": headers}, receive, send)
        finally:
            _current.reset(reset)


class MCPAuthASGI:
    """``protect()``'s result: metadata, verification, then the SDK app (pure ASGI)."""

    def __init__(
        self,
        app: ASGIApp,
        verifier: Verifier,
        *,
        required_scopes: Collection[str] | None = None,
    ) -> None:
        self.verifier = verifier
        self.metadata_path = resource_metadata_path(verifier.settings.resource)
        self.metadata = metadata_route(verifier.settings)
        self.protected = MCPAuthMiddleware(_Bridge(app), verifier, required_scopes=required_scopes)
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._closing(send))
        elif scope["type"] == "http" and scope["path"] == self.metadata_path:
            await self.metadata.handle(scope, receive, send)
        else:
            await self.protected(scope, receive, send)

    def _closing(self, send: Send) -> Send:
        """Close the verifier's HTTP client when the server shuts down."""

        async def wrapped(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                await self.verifier.aclose()
            await send(message)

        return wrapped


def protect(
    app: ASGIApp,
    *,
    issuer: str | None = None,
    resource: str | None = None,
    verifier: Verifier | None = None,
    required_scopes: Collection[str] = (),
    status_max_age: int | None = None,
) -> MCPAuthASGI:
    """Put MCP-Auth in front of an SDK app (``MCPServer.streamable_http_app()``).

    Give ``issuer`` and ``resource`` (the MCP endpoint's URL, e.g.
    ``http://127.0.0.1:8401/mcp``), or a ready ``verifier``. ``required_scopes`` are needed
    on every MCP request. ``status_max_age`` lowers how long a fetched status list is used
    (seconds, at most the issuer's ``mcpa_status_list_max_age``).
    """
    if verifier is None:
        if issuer is None or resource is None:
            raise ValueError("protect() needs issuer and resource, or a verifier")
        extra: dict[str, Any] = {}
        if status_max_age is not None:
            extra["status_max_age"] = status_max_age
        settings = VerifierSettings(
            issuer=issuer, resource=resource, required_scopes=frozenset(required_scopes), **extra
        )
        verifier = Verifier(settings)
    return MCPAuthASGI(app, verifier, required_scopes=required_scopes or None)
