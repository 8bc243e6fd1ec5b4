"""``POST /revoke`` (RFC 7009; MCPA-REV-005, MCPA-REV-012, MCPA-REV-014).

Checks, in order (MCPA-REV-014): form limits; client authentication (401
``invalid_client``); ``token`` present and not empty (``invalid_request``). Then: a
token that is not this issuer's, does not verify, or was not issued to the caller is
left alone and the answer is still 200 (RFC 7009 section 2.2: unknown tokens are not an
error; answering the same for other clients' tokens reveals nothing about them). The
caller's own token is revoked together with every token exchanged from it (descendants),
and a ``token.revoked`` event is written in the same transaction, before the 200: when
storage fails, nothing is revoked and the answer is 503 ``temporarily_unavailable``
(MCPA-AUD-009); the client retries.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from ..errors import InvalidRequest
from . import audit, tokens
from .context import IssuerContext
from .form_request import authenticated_form
from .http import NO_STORE
from .settings import MAX_TOKEN_BYTES

log = logging.getLogger("mcp_auth.issuer.revocation")


def revoke_token(ctx: IssuerContext, caller: str, token: str, now: int) -> bool:
    """Revoke ``token`` if ``caller`` holds it; True when something was revoked."""
    try:
        claims = tokens.verify_own(ctx, token, now=now, check_exp=False)
    except tokens.TokenRejected as exc:
        log.info("revocation of an unknown token by %s: %s", caller, exc)
        return False
    if claims["client_id"] != caller:
        log.info("client %s tried to revoke a token held by another client", caller)
        return False
    with ctx.db.transaction() as conn:
        changed = tokens.revoke_with_descendants(conn, claims["jti"], now)
        if changed:
            audit.append(
                conn,
                "token.revoked",
                grant_id=claims["grant_id"],
                sub=claims["sub"],
                client_id=caller,
                act=claims.get("act"),
                token_jti=claims["jti"],
                resource=claims["aud"],
            )
    return changed > 0


async def revocation_endpoint(request: Request) -> Response:
    req = await authenticated_form(request, "/revoke", requirement="MCPA-REV-014")
    ctx, client, now = req.ctx, req.client, req.now
    token = req.form.get("token")
    if not token:
        raise InvalidRequest("missing parameter token", requirement="MCPA-REV-014")
    if len(token) <= MAX_TOKEN_BYTES:
        revoke_token(ctx, client.client_id, token, now)
    return Response(b"", status_code=200, headers=NO_STORE)
