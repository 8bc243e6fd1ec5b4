"""``POST /introspect`` (RFC 7662; MCPA-REV-006, MCPA-REV-007, MCPA-REV-014).

Checks, in order (MCPA-REV-014): form limits; client authentication (401
``invalid_client``); ``token`` present and not empty (``invalid_request``). The token is
active only when it is this issuer's, verifies, is unexpired, neither it nor an ancestor
is revoked, its grant is active, and the caller is its holder (``client_id``) or its
audience (a client whose registered ``resource`` is the token's ``aud``). Everything
else is ``{"active": false}``.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..errors import InvalidRequest
from . import tokens
from .clients import Client
from .context import IssuerContext
from .form_request import authenticated_form
from .http import json_response

log = logging.getLogger("mcp_auth.issuer.introspection")
INACTIVE: dict[str, Any] = {"active": False}
FIELDS = ("iss", "sub", "aud", "client_id", "scope", "exp", "iat", "jti", "grant_id", "act", "cnf")


def introspect(ctx: IssuerContext, caller: Client, token: str, now: int) -> dict[str, Any]:
    try:
        claims = tokens.verify_own(ctx, token, now=now)
        tokens.usable_grant(ctx, claims, now)
    except tokens.TokenRejected as exc:
        log.info("introspection by %s: inactive (%s)", caller.client_id, exc)
        return dict(INACTIVE)
    is_holder = claims["client_id"] == caller.client_id
    is_audience = caller.resource is not None and caller.resource == claims["aud"]
    if not (is_holder or is_audience):
        log.info("introspection by %s: neither holder nor audience", caller.client_id)
        return dict(INACTIVE)
    body: dict[str, Any] = {"active": True}
    for name in FIELDS:
        if name in claims:
            body[name] = claims[name]
    if "nbf" in claims:
        body["nbf"] = claims["nbf"]
    body["token_type"] = "DPoP"  # noqa: S105
    return body


async def introspection_endpoint(request: Request) -> Response:
    req = await authenticated_form(request, "/introspect", requirement="MCPA-REV-014")
    ctx, client, now = req.ctx, req.client, req.now
    token = req.form.get("token")
    if not token:
        raise InvalidRequest("missing parameter token", requirement="MCPA-REV-014")
    return json_response(introspect(ctx, client, token, now))
