"""The grant management API (JSON; MCPA-GRT-004..007, 011..013, 015, 022, 025,
MCPA-AUD-005) and the admin client API.

Authentication: ``Authorization: Bearer <client assertion>`` (``aud`` = issuer identifier
or the grants endpoint URL, single-use ``jti``) or ``Bearer <admin token>``. Per request,
in order (section 2.3 of the spec, MCPA-GRT-025): body limits and JSON parsing;
authentication (401 ``invalid_client``); caller permissions (403 ``access_denied``,
MCPA-GRT-015); existence and ownership (404 ``not_found``, also for other clients' grants,
so nothing leaks); body and query validation (400 ``invalid_request``, MCPA-GRT-013,
MCPA-GRT-022), and last, for ``GET /grants``, a ``client_id`` naming another client (404);
for ``POST /grants``, then the grant quotas (403 ``quota_exceeded``, MCPA-GRT-026).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from ..errors import AccessDenied, InvalidClient, InvalidRequest, NotFound, OAuthError
from . import audit, grants
from .client_auth import GENERIC, bearer_credential, verify_assertion
from .clients import (
    Client,
    ClientError,
    delete_client,
    get_client,
    list_clients,
    save_client,
    validate_client,
)
from .context import IssuerContext
from .http import NO_STORE, json_response, parse_json

log = logging.getLogger("mcp_auth.issuer.grants")
BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="mcp-auth"'}


@dataclass(frozen=True)
class Caller:
    client: Client | None  # None: the admin token

    @property
    def is_admin(self) -> bool:
        return self.client is None


def authenticate(request: Request, *, admin_only: bool = False) -> Caller:
    ctx: IssuerContext = request.app.state.ctx
    headers = request.headers.getlist("authorization")
    # One answer whatever the reason (MCPA-CLA-005); the reason goes to the log.
    if len(headers) != 1:
        raise InvalidClient(GENERIC, requirement="MCPA-CLA-001", detail="not one Authorization")
    credential = bearer_credential(headers[0])
    if credential is None:
        raise InvalidClient(GENERIC, requirement="MCPA-CLA-001", detail="not a Bearer credential")
    if ctx.is_admin(credential):
        return Caller(None)
    if admin_only:
        raise InvalidClient(GENERIC, requirement="MCPA-GRT-011", detail="admin token required")
    client = verify_assertion(ctx.db, credential, ctx.settings.issuer_url)
    return Caller(client)


def _visible_grant(ctx: IssuerContext, caller: Caller, grant_id: str) -> grants.Grant:
    grant = grants.get_grant(ctx.db, grant_id)
    if grant is None or (
        not caller.is_admin
        and caller.client is not None
        and grant.client_id != caller.client.client_id
    ):
        raise NotFound("no such grant", requirement="MCPA-GRT-006")
    return grant


async def create_grant(request: Request) -> Response:
    ctx: IssuerContext = request.app.state.ctx
    body = await parse_json(request)
    caller = authenticate(request)
    if caller.client is not None and caller.client.client_type != "agent":
        raise AccessDenied("only agent clients create grants", requirement="MCPA-GRT-015")
    grant_request = grants.validate_create(
        body,
        ctx.settings,
        caller_client_id=None if caller.client is None else caller.client.client_id,
    )
    if caller.is_admin:
        owner = get_client(ctx.db, grant_request.client_id)
        if owner is None or owner.client_type != "agent":
            raise InvalidRequest(
                "client_id must name a registered agent client", requirement="MCPA-GRT-013"
            )
    # Step 6: the quotas of Appendix A (403 quota_exceeded, MCPA-GRT-026).
    grant = grants.create_grant(
        ctx.db, grant_request, active=caller.is_admin, settings=ctx.settings
    )
    response = json_response(grant.to_json(ctx.settings), status=201)
    response.headers["Location"] = ctx.settings.url(f"/grants/{grant.grant_id}")
    return response


async def list_grants(request: Request) -> Response:
    ctx: IssuerContext = request.app.state.ctx
    caller = authenticate(request)
    params = request.query_params
    # Step 5 of section 2.3: the query parameters (400), then, last, a client_id naming
    # another client (404, as for any grant that is not the caller's).
    for name in params:
        if len(params.getlist(name)) != 1 or name not in ("status", "sub", "client_id"):
            raise InvalidRequest(
                "unsupported or repeated query parameter", requirement="MCPA-GRT-022"
            )
    status = params.get("status")
    if status is not None and status not in grants.STATUSES:
        raise InvalidRequest("unknown status filter", requirement="MCPA-GRT-022")
    if caller.client is not None and params.get("client_id", caller.client.client_id) != (
        caller.client.client_id
    ):
        raise NotFound("no such client", requirement="MCPA-GRT-005")
    if caller.client is not None:
        client_id: str | None = caller.client.client_id
    else:
        client_id = params.get("client_id")
    found = grants.list_grants(ctx.db, client_id=client_id, sub=params.get("sub"), status=status)
    return json_response({"grants": [g.to_json(ctx.settings) for g in found]})


async def get_grant(request: Request) -> Response:
    ctx: IssuerContext = request.app.state.ctx
    caller = authenticate(request)
    grant = _visible_grant(ctx, caller, request.path_params["grant_id"])
    return json_response(grant.to_json(ctx.settings))


async def delete_grant(request: Request) -> Response:
    ctx: IssuerContext = request.app.state.ctx
    caller = authenticate(request)
    grant = _visible_grant(ctx, caller, request.path_params["grant_id"])
    actor = (
        audit.admin_actor()
        if caller.client is None
        else audit.client_actor(caller.client.client_id)
    )
    grants.transition(ctx.db, grant.grant_id, "revoke", actor=actor)
    return Response(status_code=204, headers=NO_STORE)


async def grant_events(request: Request) -> Response:
    ctx: IssuerContext = request.app.state.ctx
    caller = authenticate(request)
    grant = _visible_grant(ctx, caller, request.path_params["grant_id"])
    events = audit.events_for_grant(ctx.db, grant.grant_id)
    return json_response({"grant_id": grant.grant_id, "events": events})


async def grant_dispatch(request: Request) -> Response:
    """``/grants/{grant_id}``: GET or DELETE."""
    if request.method == "DELETE":
        return await delete_grant(request)
    return await get_grant(request)


async def grants_collection(request: Request) -> Response:
    if request.method == "POST":
        return await create_grant(request)
    return await list_grants(request)


# -- admin client API ---------------------------------------------------------------------
async def admin_clients(request: Request) -> Response:
    ctx: IssuerContext = request.app.state.ctx
    if request.method == "POST":
        body = await parse_json(request)
        authenticate(request, admin_only=True)
        try:
            client = validate_client(body, source="admin")
            save_client(ctx.db, client, replace=False)
        except ClientError as exc:
            # Client registration is the reference's own API: no requirement of the spec.
            raise InvalidRequest(str(exc)) from exc
        return json_response(client.public(), status=201)
    authenticate(request, admin_only=True)
    return json_response({"clients": [c.public() for c in list_clients(ctx.db)]})


async def admin_client(request: Request) -> Response:
    ctx: IssuerContext = request.app.state.ctx
    authenticate(request, admin_only=True)
    client_id = request.path_params["client_id"]
    if request.method == "DELETE":
        if not delete_client(ctx.db, client_id):
            raise NotFound("no such client")
        return Response(status_code=204, headers=NO_STORE)
    client = get_client(ctx.db, client_id)
    if client is None:
        raise NotFound("no such client")
    return json_response(client.public())


def challenge_headers(exc: OAuthError) -> dict[str, str]:
    return BEARER_CHALLENGE if exc.status == 401 else {}
