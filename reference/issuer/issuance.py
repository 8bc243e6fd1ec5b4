"""Issuance: ``grant_type=urn:ietf:params:oauth:grant-type:mcpa-grant`` (MCPA-ISS-001..012).

Checks after client authentication, in this order (first failure wins):

1. parameters: ``grant_id``, ``resource``, ``actor_model`` present and non-empty, within
   the limits of Appendix A (``resource`` at most 2048 characters, identifiers at most
   256, ``scope`` at most 64 tokens of at most 256 characters); ``requested_token_type``
   absent or access_token (``invalid_request``, MCPA-ISS-001, MCPA-GEN-003). An empty
   optional parameter counts as absent (MCPA-GEN-006);
2. DPoP proof for ``POST`` at the token endpoint, ``jti`` not replayed
   (``invalid_dpop_proof``, MCPA-ISS-002);
3. the grant exists and belongs to this client — one answer for both failures — and is
   active, evaluated at this instant (``invalid_grant``, MCPA-ISS-003/004);
4. ``actor_model`` in the grant's ``models`` (``invalid_grant``, MCPA-ISS-007);
5. ``resource`` in the grant's ``resources`` (``invalid_target``, MCPA-ISS-005);
6. ``scope`` (default: all of the grant's), when present well-formed and ⊆ the grant's
   scopes (``invalid_scope``, MCPA-ISS-006).

The token: chain model over agent (depth 2), ``cnf.jkt`` the proof key, ``exp`` =
min(now + issuer lifetime, now + grant lifetime, grant expiry) (MCPA-ISS-016).
"""

from __future__ import annotations

from starlette.responses import Response

from ..errors import InvalidGrant, InvalidScope, InvalidTarget
from . import audit, chain, tokens
from .grants import get_grant
from .scopes import is_subset, parse_scope
from .settings import MAX_URI_CHARS
from .token_request import TokenRequest, token_response


def issue(treq: TokenRequest) -> Response:
    ctx, client, now = treq.ctx, treq.client, treq.now
    # 1. parameters (step 4 of section 4.3.2)
    grant_id = treq.param("grant_id")
    resource = treq.param("resource", limit=MAX_URI_CHARS)
    model = treq.param("actor_model")
    scope_param = treq.scope_param()
    treq.requested_token_type("MCPA-ISS-001")
    assert grant_id is not None and resource is not None and model is not None
    act = chain.issuance_chain(client.client_id, model)
    treq.audit.update(resource=resource, act=act)
    if scope_param is not None and parse_scope(scope_param) is not None:
        treq.audit["scope"] = scope_param

    # 2. DPoP proof (step 5)
    proof = treq.dpop("MCPA-ISS-002")

    # 3. the grant exists and is this client's (step 6): one answer for both failures
    grant = get_grant(ctx.db, grant_id, now)
    if grant is not None:
        treq.audit.update(grant_id=grant.grant_id, sub=grant.sub)
    if grant is None or grant.client_id != client.client_id:
        raise InvalidGrant("grant unknown or not issued to this client", requirement="MCPA-ISS-003")
    # 4. active, evaluated now (step 7)
    if grant.status != "active":
        raise InvalidGrant(f"grant is {grant.status}", requirement="MCPA-ISS-004")
    # 5. model (step 8)
    if model not in grant.models:
        raise InvalidGrant("actor_model not covered by the grant", requirement="MCPA-ISS-007")
    # 6. resource (step 9)
    if resource not in grant.resources:
        raise InvalidTarget("resource not covered by the grant", requirement="MCPA-ISS-005")
    # 7. scope (step 10): when present, well-formed and within the grant
    if scope_param is None:
        scope = list(grant.scopes)
    else:
        parsed = parse_scope(scope_param)
        if parsed is None:
            raise InvalidScope("scope is malformed", requirement="MCPA-ISS-006")
        if not is_subset(parsed, grant.scopes):
            raise InvalidScope("scope exceeds the grant", requirement="MCPA-ISS-006")
        scope = parsed

    exp = min(
        now + ctx.settings.max_token_lifetime,
        now + grant.max_token_lifetime,
        grant.expires_at,
    )
    claims = tokens.build_claims(
        ctx,
        grant=grant,
        client_id=client.client_id,
        aud=resource,
        scope=scope,
        act=act,
        jkt=proof.jkt,
        iat=now,
        exp=exp,
    )
    token = tokens.sign(ctx, claims)
    with ctx.db.transaction() as conn:
        tokens.assert_grant_active(conn, grant.grant_id)
        tokens.record(conn, claims, None)
        audit.append(
            conn,
            "token.issued",
            grant_id=grant.grant_id,
            sub=grant.sub,
            client_id=client.client_id,
            act=act,
            token_jti=claims["jti"],
            resource=resource,
            scope=claims["scope"],
        )
    return token_response(claims, token, now)
