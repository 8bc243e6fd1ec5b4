"""``POST /token``: the ordered checks shared by issuance and exchange.

1. form parsing with limits: body ≤ 64 KiB (413), ≤ 32 parameters, none repeated,
   strict UTF-8 (``invalid_request``; MCPA-GEN-003, MCPA-ISS-012);
2. client authentication, ``private_key_jwt`` (401 ``invalid_client``; MCPA-CLA-*);
3. ``grant_type`` present (``invalid_request``) and supported (``unsupported_grant_type``);
4. the grant type's own checks (:mod:`.issuance`, :mod:`.exchange`).

Every answer carries ``Cache-Control: no-store`` (MCPA-ISS-010). Every refusal after
client authentication is an audit event ``token.refused`` (MCPA-AUD-001); failures
before it are only logged, so unauthenticated callers cannot fill the audit log.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from ..errors import OAuthError, UnsupportedGrantType
from . import audit, exchange, issuance
from .clients import valid_resource_uri
from .form_request import authenticated_form
from .http import error_response, safe_description
from .metadata import MCPA_GRANT_TYPE, TOKEN_EXCHANGE_GRANT_TYPE
from .token_request import TokenRequest

log = logging.getLogger("mcp_auth.issuer.token")


async def token_endpoint(request: Request) -> Response:
    req = await authenticated_form(request, "/token")
    client = req.client
    treq = TokenRequest(req.ctx, request, req.form, client, req.now)
    try:
        grant_type = treq.param("grant_type", limit=128)
        if grant_type == MCPA_GRANT_TYPE:
            return issuance.issue(treq)
        if grant_type == TOKEN_EXCHANGE_GRANT_TYPE:
            return exchange.exchange(treq)
        raise UnsupportedGrantType("unsupported grant_type", requirement="MCPA-ISS-001")
    except OAuthError as exc:
        log.info(
            "token request refused: client=%s error=%s requirement=%s detail=%s",
            client.client_id,
            exc.error,
            exc.requirement,
            exc.detail or exc.description,
        )
        record_refusal(treq, exc)
        return error_response(exc)


def record_refusal(treq: TokenRequest, exc: OAuthError) -> None:
    fields = {k: v for k, v in treq.audit.items() if v is not None}
    if not valid_resource_uri(fields.get("resource")):
        fields.pop("resource", None)  # only well-formed URIs go into the log
    fields.setdefault("client_id", treq.client.client_id)
    with treq.ctx.db.transaction() as conn:
        audit.append(
            conn,
            "token.refused",
            error=exc.error,
            error_description=safe_description(exc.description),
            **fields,
        )
