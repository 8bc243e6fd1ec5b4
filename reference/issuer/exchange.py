"""Exchange: RFC 8693 ``grant_type=urn:ietf:params:oauth:grant-type:token-exchange``.

Checks after client authentication, in this order (first failure wins):

1. parameters: ``subject_token`` (≤ 8192 bytes), ``subject_token_type`` = access_token,
   ``resource`` present (≤ 2048 characters), ``scope`` within Appendix A (at most 64
   tokens of at most 256 characters, MCPA-GEN-003; an empty one counts as absent);
   ``requested_token_type`` absent or access_token; no
   ``actor_token``/``actor_token_type`` (``invalid_request``, MCPA-XCH-001/012);
2. DPoP proof of the exchanger, ``jti`` not replayed (``invalid_dpop_proof``);
3. the subject token is this issuer's, signature valid, unexpired, not before its
   ``nbf``, neither it nor an
   ancestor revoked, its grant active (``invalid_grant``, MCPA-XCH-002, MCPA-REV-004);
4. the exchanger's registered ``resource`` is the subject token's ``aud`` — only the
   audience exchanges (``invalid_grant``, MCPA-XCH-003);
5. the exchanger is one of the grant's ``tools`` (``invalid_grant``, MCPA-XCH-004);
6. new depth ≤ min(grant ``max_depth``, issuer maximum) (``invalid_grant``, MCPA-XCH-007);
7. ``resource`` in the grant's ``resources`` (``invalid_target``, MCPA-XCH-008);
8. ``scope`` (default: the subject token's) ⊆ the subject token's scope
   (``invalid_scope``, MCPA-XCH-005).

Attenuation: scope never grows (8), expiry never extends (``exp`` = min(now + lifetime,
subject ``exp``, grant expiry), MCPA-XCH-006), depth bounded (6);
the new token is bound to the exchanger's key (MCPA-XCH-009) and appends it to the chain
(MCPA-XCH-010).
"""

from __future__ import annotations

import logging

from starlette.responses import Response

from ..errors import InvalidGrant, InvalidRequest, InvalidScope, InvalidTarget
from . import audit, chain, tokens
from .metadata import ACCESS_TOKEN_TYPE
from .scopes import is_subset, parse_scope
from .settings import MAX_TOKEN_BYTES, MAX_URI_CHARS
from .token_request import TokenRequest, token_response

log = logging.getLogger("mcp_auth.issuer.exchange")


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
        raise InvalidGrant(
            "subject_token is invalid", requirement="MCPA-XCH-002", detail=str(exc)
        ) from exc
    # Established by a verified signature: may go into a refusal event (MCPA-AUD-008).
    new_act = chain.append_tool(subject["act"], client.client_id)
    treq.audit.update(
        grant_id=subject["grant_id"], sub=subject["sub"], parent_jti=subject["jti"], act=new_act
    )
    try:
        grant = tokens.usable_grant(ctx, subject, now)
    except tokens.TokenRejected as exc:
        raise InvalidGrant(
            "subject_token is revoked or its grant is not active",
            requirement="MCPA-XCH-002",
            detail=str(exc),
        ) from exc

    # 4. only the audience exchanges
    if client.resource is None or client.resource != subject["aud"]:
        raise InvalidGrant(
            "only the audience of the subject_token may exchange it",
            requirement="MCPA-XCH-003",
        )
    # 5. exchanger within the grant's tools
    if client.client_id not in grant.tools:
        raise InvalidGrant("client is not a tool of the grant", requirement="MCPA-XCH-004")
    # 6. depth
    limit = min(grant.max_depth, ctx.settings.max_chain_depth)
    if chain.depth(new_act) > limit:
        raise InvalidGrant("chain depth limit reached", requirement="MCPA-XCH-007")
    # 7. resource
    if resource not in grant.resources:
        raise InvalidTarget("resource not covered by the grant", requirement="MCPA-XCH-008")
    # 8. scope never grows
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
    with ctx.db.transaction() as conn:
        tokens.assert_grant_active(conn, grant.grant_id)
        tokens.record(conn, claims, subject["jti"])
        audit.append(
            conn,
            "token.exchanged",
            grant_id=grant.grant_id,
            sub=grant.sub,
            client_id=client.client_id,
            act=new_act,
            token_jti=claims["jti"],
            parent_jti=subject["jti"],
            resource=resource,
            scope=claims["scope"],
        )
    return token_response(claims, token, now)
