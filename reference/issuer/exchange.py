"""Exchange: RFC 8693 ``grant_type=urn:ietf:params:oauth:grant-type:token-exchange``.

Checks after client authentication, in this order (first failure wins). A subject token
that is invalid or unacceptable is ``invalid_request`` as RFC 8693 section 2.2.2 requires,
with MCP-Auth's reason in ``mcpa_error`` (spec Table 4-4, MCPA-XCH-015):

1. parameters: ``subject_token`` (≤ 8192 bytes), ``subject_token_type`` = access_token,
   ``resource`` present (≤ 2048 characters), ``scope`` within Appendix A (at most 64
   tokens of at most 256 characters, MCPA-GEN-003; an empty one counts as absent);
   ``actor_model`` at most 256 characters; ``requested_token_type`` absent or
   access_token; no ``actor_token``/``actor_token_type`` (``invalid_request``,
   MCPA-XCH-001/012);
2. DPoP proof of the exchanger, ``jti`` not replayed (``invalid_dpop_proof``);
3. the subject token is this issuer's, signature valid, unexpired, not before its
   ``nbf``, neither it nor an ancestor revoked, its grant active (``invalid_request``
   with ``subject_token_invalid``, ``subject_token_expired``, ``subject_token_revoked``,
   ``grant_revoked`` or ``grant_expired``; MCPA-XCH-002, MCPA-REV-004);
4. the exchanger's registered ``resource`` is the subject token's ``aud`` — only the
   audience exchanges (``invalid_request``, ``not_audience``, MCPA-XCH-003);
5. the exchanger is one of the grant's ``tools`` (``invalid_request``,
   ``tool_not_allowed``, MCPA-XCH-004);
6. new depth ≤ min(grant ``max_depth``, issuer maximum) (``invalid_request``,
   ``depth_exceeded``, MCPA-XCH-007);
7. ``actor_model``, when sent, in the grant's ``models`` (``invalid_request``,
   ``model_not_allowed``, MCPA-XCH-016);
8. ``resource`` in the grant's ``resources`` (``invalid_target``, MCPA-XCH-008);
9. ``scope`` (default: the subject token's) ⊆ the subject token's scope
   (``invalid_scope``, MCPA-XCH-005).

Attenuation: scope never grows (9), expiry never extends (``exp`` = min(now + lifetime,
subject ``exp``, grant expiry), MCPA-XCH-006), depth bounded (6);
the new token is bound to the exchanger's key (MCPA-XCH-009) and appends it to the chain
as the new current actor, with its ``mcpa_model`` when it named one (MCPA-XCH-010).
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.responses import Response

from ..errors import InvalidGrant, InvalidRequest, InvalidScope, InvalidTarget, OAuthError
from . import audit, chain, tokens
from .context import IssuerContext
from .grants import Grant
from .metadata import ACCESS_TOKEN_TYPE
from .scopes import is_subset, parse_scope
from .settings import MAX_TOKEN_BYTES, MAX_URI_CHARS
from .token_request import TokenRequest, token_response

log = logging.getLogger("mcp_auth.issuer.exchange")

#: The registered ``mcpa_error`` values of an exchange refusal (spec Table 4-4).
MCPA_ERRORS = (
    "subject_token_invalid",
    "subject_token_expired",
    "subject_token_revoked",
    "grant_revoked",
    "grant_expired",
    "not_audience",
    "tool_not_allowed",
    "depth_exceeded",
    "model_not_allowed",
)


def _refused(
    description: str, mcpa_error: str, requirement: str, detail: str | None = None
) -> OAuthError:
    """An unacceptable subject token: ``invalid_request`` + ``mcpa_error`` (RFC 8693 2.2.2)."""
    return InvalidRequest(
        description, requirement=requirement, detail=detail, mcpa_error=mcpa_error
    )


def exchange(treq: TokenRequest) -> Response:
    ctx, client, now = treq.ctx, treq.client, treq.now
    # 1. parameters
    for forbidden in ("actor_token", "actor_token_type"):
        if forbidden in treq.form:
            raise InvalidRequest(f"{forbidden} is not supported", requirement="MCPA-XCH-012")
    subject_token = treq.param("subject_token", limit=MAX_TOKEN_BYTES, requirement="MCPA-XCH-001")
    subject_type = treq.param("subject_token_type", limit=128, requirement="MCPA-XCH-001")
    if subject_type != ACCESS_TOKEN_TYPE:
        raise InvalidRequest("unsupported subject_token_type", requirement="MCPA-XCH-001")
    resource = treq.param("resource", limit=MAX_URI_CHARS, requirement="MCPA-XCH-001")
    model = treq.param("actor_model", required=False, requirement="MCPA-XCH-001")
    scope_param = treq.scope_param()
    treq.requested_token_type("MCPA-XCH-001")
    assert subject_token is not None and resource is not None
    treq.audit["resource"] = resource
    if scope_param is not None and parse_scope(scope_param) is not None:
        treq.audit["scope"] = scope_param

    # 2. DPoP proof of the exchanger
    proof = treq.dpop("MCPA-ISS-002")

    # 3. subject token valid, lineage not revoked, grant active
    try:
        subject = tokens.verify_own(ctx, subject_token, now=now)
    except tokens.TokenRejected as exc:
        raise _refused(
            "subject_token is invalid", exc.reason, "MCPA-XCH-002", detail=str(exc)
        ) from exc
    # Established by a verified signature: may go into a refusal event (MCPA-AUD-008).
    new_act = chain.append_tool(subject["act"], client.client_id, model)
    treq.audit.update(
        grant_id=subject["grant_id"], sub=subject["sub"], parent_jti=subject["jti"], act=new_act
    )
    try:
        grant = tokens.usable_grant(ctx, subject, now)
    except tokens.TokenRejected as exc:
        raise _refused(
            "subject_token is revoked or its grant is not active",
            exc.reason,
            "MCPA-XCH-002",
            detail=str(exc),
        ) from exc

    # 4. only the audience exchanges
    if client.resource is None or client.resource != subject["aud"]:
        raise _refused(
            "only the audience of the subject_token may exchange it",
            "not_audience",
            "MCPA-XCH-003",
        )
    # 5. exchanger within the grant's tools
    if client.client_id not in grant.tools:
        raise _refused("client is not a tool of the grant", "tool_not_allowed", "MCPA-XCH-004")
    # 6. depth (holders: the agent's token has depth 1, each exchange adds one)
    limit = min(grant.max_depth, ctx.settings.max_chain_depth)
    if chain.depth(new_act) > limit:
        raise _refused("chain depth limit reached", "depth_exceeded", "MCPA-XCH-007")
    # 7. the exchanger's own model, when it names one
    if model is not None and model not in grant.models:
        raise _refused("actor_model not covered by the grant", "model_not_allowed", "MCPA-XCH-016")
    # 8. resource
    if resource not in grant.resources:
        raise InvalidTarget("resource not covered by the grant", requirement="MCPA-XCH-008")
    # 9. scope never grows
    subject_scope = parse_scope(subject["scope"]) or []
    if scope_param is None:
        scope = subject_scope
    else:
        parsed = parse_scope(scope_param)
        if parsed is None:
            raise InvalidScope("scope is malformed", requirement="MCPA-XCH-005")
        if not is_subset(parsed, subject_scope):
            raise InvalidScope(
                "scope exceeds the subject_token's scope", requirement="MCPA-XCH-005"
            )
        scope = parsed
    if not scope:
        raise InvalidScope("empty scope", requirement="MCPA-XCH-005")

    # MCPA-XCH-006: min(now + L, subject exp, grant expiry): expiry never extends.
    exp = min(now + ctx.settings.max_token_lifetime, int(subject["exp"]), grant.expires_at)
    claims = tokens.build_claims(
        ctx,
        grant=grant,
        client_id=client.client_id,
        aud=resource,
        scope=scope,
        act=new_act,
        jkt=proof.jkt,
        iat=now,
        exp=exp,
    )
    # The status claim is copied from the subject token (same grant, same index).
    claims["status"] = subject.get("status", claims["status"])
    claims["sub"] = subject["sub"]
    token = tokens.sign(ctx, claims)
    try:
        _record(
            ctx,
            claims=claims,
            grant=grant,
            client_id=client.client_id,
            new_act=new_act,
            subject=subject,
            resource=resource,
        )
    except InvalidGrant as exc:  # the grant was revoked while this exchange ran
        raise _refused("grant is not active", "grant_revoked", "MCPA-XCH-002") from exc
    return token_response(claims, token, now)


def _record(
    ctx: IssuerContext,
    *,
    claims: dict[str, Any],
    grant: Grant,
    client_id: str,
    new_act: dict[str, Any],
    subject: dict[str, Any],
    resource: str,
) -> None:
    with ctx.db.transaction() as conn:
        tokens.assert_grant_active(conn, grant.grant_id)
        tokens.record(conn, claims, subject["jti"])
        audit.append(
            conn,
            "token.exchanged",
            grant_id=grant.grant_id,
            sub=grant.sub,
            client_id=client_id,
            act=new_act,
            token_jti=claims["jti"],
            parent_jti=subject["jti"],
            resource=resource,
            scope=claims["scope"],
        )
