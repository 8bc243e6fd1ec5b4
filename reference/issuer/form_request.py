"""The common start of the form endpoints (token, revocation, introspection).

Parse the form, take the request time, authenticate the client, in that order. The time
is taken once the body is in: a slow upload must not let a client assertion or DPoP proof
be judged, and its ``jti`` checked, at an earlier instant (MCPA-CLA-003).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from starlette.requests import Request

from .client_auth import authenticate_form
from .clients import Client
from .context import IssuerContext
from .http import parse_form


@dataclass(frozen=True)
class FormRequest:
    ctx: IssuerContext
    form: dict[str, str]
    client: Client
    now: int


async def authenticated_form(
    request: Request, path: str, *, requirement: str = "MCPA-ISS-001"
) -> FormRequest:
    """The parsed form and authenticated client of a request to the endpoint at ``path``.

    ``requirement`` names the rule a malformed body breaks (MCPA-ISS-001 at the token
    endpoint, MCPA-REV-014 at revocation and introspection).
    """
    ctx: IssuerContext = request.app.state.ctx
    form = await parse_form(request, requirement=requirement)
    now = int(time.time())
    client = authenticate_form(ctx.db, form, ctx.settings.issuer_url, now=now)
    return FormRequest(ctx, form, client, now)
