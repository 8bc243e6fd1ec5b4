"""Delegation tokens the issuer mints, and the checks it runs on tokens it gets back.

Issued tokens are recorded by ``jti`` with ``parent_jti``, ``grant_id``, ``client_id``,
``aud``, ``iat``, ``exp`` — never the token itself. A token is revoked when it or any
ancestor is revoked (the RFC 7009 cascade, MCPA-REV-005), or when its grant is no
longer active (MCPA-REV-004).
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidGrant
from ..jose import ALLOWED_ALGS, JoseError, parse_compact, verify_signature
from . import chain
from .context import IssuerContext
from .grants import Grant, get_grant
from .settings import MAX_TOKEN_BYTES
from .storage import Database

TOKEN_TYP = "mcpa+jwt"  # noqa: S105
ACCEPTED_TYPS = ("mcpa+jwt", "application/mcpa+jwt")
FORBIDDEN_HEADERS = ("jku", "x5u", "jwk", "x5c", "crit")
STRING_CLAIMS = ("iss", "sub", "aud", "client_id", "jti", "scope", "grant_id")
INT_CLAIMS = ("iat", "exp")


class TokenRejected(Exception):
    """A token the issuer will not honour; the message is for the log only.

    ``reason`` is the ``mcpa_error`` value an exchange refusal carries (MCPA-XCH-015).
    """

    def __init__(self, message: str, reason: str = "subject_token_invalid") -> None:
        super().__init__(message)
        self.reason = reason


def new_jti() -> str:
    return secrets.token_urlsafe(24)  # 192 bits (MCPA-TOK-010)


@dataclass(frozen=True)
class Minted:
    token: str
    claims: dict[str, Any]


def _status_entry(ctx: IssuerContext, grant: Grant) -> dict[str, Any]:
    """The grant's status list entry (MCPA-REV-003); every active grant has one."""
    if grant.status_list_id is None or grant.status_idx is None:
        raise InvalidGrant("grant is not active", requirement="MCPA-GRT-003")
    return {"idx": grant.status_idx, "uri": ctx.settings.status_list_uri(grant.status_list_id)}


def build_claims(
    ctx: IssuerContext,
    *,
    grant: Grant,
    client_id: str,
    aud: str,
    scope: list[str],
    act: dict[str, Any],
    jkt: str,
    iat: int,
    exp: int,
) -> dict[str, Any]:
    return {
        "iss": ctx.settings.issuer_url,
        "sub": grant.sub,
        "aud": aud,
        "client_id": client_id,
        "iat": iat,
        "exp": exp,
        "jti": new_jti(),
        "scope": " ".join(scope),
        "grant_id": grant.grant_id,
        "cnf": {"jkt": jkt},
        "status": {"mcpa_grant_list": _status_entry(ctx, grant)},
        "act": act,
    }


def sign(ctx: IssuerContext, claims: dict[str, Any]) -> str:
    return ctx.keys.sign({"typ": TOKEN_TYP}, claims, ctx.settings.token_alg)


def record(conn: sqlite3.Connection, claims: dict[str, Any], parent_jti: str | None) -> None:
    """Store the token's identifiers (inside the issuing transaction)."""
    conn.execute(
        "INSERT INTO tokens (jti, parent_jti, grant_id, client_id, aud, iat, exp) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            claims["jti"],
            parent_jti,
            claims["grant_id"],
            claims["client_id"],
            claims["aud"],
            claims["iat"],
            claims["exp"],
        ),
    )


def assert_grant_active(conn: sqlite3.Connection, grant_id: str) -> None:
    """Re-check inside the issuing transaction: a revocation that won the race wins."""
    row = conn.execute("SELECT status FROM grants WHERE grant_id = ?", (grant_id,)).fetchone()
    if row is None or row["status"] != "active":
        raise InvalidGrant("grant is not active", requirement="MCPA-GRT-003")


def lineage_revoked(db: Database, jti: str) -> bool:
    """Whether the token or any ancestor is revoked (or the record is missing)."""
    current: str | None = jti
    for _ in range(16):
        if current is None:
            return False
        row = db.query_one("SELECT parent_jti, revoked_at FROM tokens WHERE jti = ?", (current,))
        if row is None or row["revoked_at"] is not None:
            return True
        current = row["parent_jti"]
    return True


def revoke_with_descendants(conn: sqlite3.Connection, jti: str, now: int) -> int:
    """Mark a token and every token exchanged from it revoked; returns how many changed."""
    before = conn.total_changes
    conn.execute(
        "WITH RECURSIVE tree(jti) AS (SELECT ? UNION SELECT t.jti FROM tokens t "
        "JOIN tree ON t.parent_jti = tree.jti) "
        "UPDATE tokens SET revoked_at = ? WHERE jti IN (SELECT jti FROM tree) "
        "AND revoked_at IS NULL",
        (jti, now),
    )
    # sqlite3's ``rowcount`` is -1 for statements starting with WITH: count changes instead.
    return conn.total_changes - before


def verify_own(
    ctx: IssuerContext, token: object, *, now: int | None = None, check_exp: bool = True
) -> dict[str, Any]:
    """Verify a delegation token this issuer signed; return its claims.

    Order: size, parse, ``typ``, ``alg`` allow-list, forbidden headers, key by ``kid``,
    signature, ``iss``, claim types, chain grammar, ``exp``, and that the issuer
    recorded it. Revocation and grant state are the caller's (``lineage_revoked``).
    """
    moment = int(time.time()) if now is None else now
    if not isinstance(token, str) or not token:
        raise TokenRejected("no token")
    if len(token.encode("utf-8")) > MAX_TOKEN_BYTES:
        raise TokenRejected("token too large")
    try:
        jws = parse_compact(token, max_length=MAX_TOKEN_BYTES)
    except JoseError as exc:
        raise TokenRejected(f"token does not parse: {exc.code}") from exc
    typ = jws.header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in ACCEPTED_TYPS:
        raise TokenRejected("wrong typ")
    alg = jws.header.get("alg")
    if alg not in ALLOWED_ALGS:
        raise TokenRejected("alg not allowed")
    if any(name in jws.header for name in FORBIDDEN_HEADERS):
        raise TokenRejected("forbidden header")
    key = ctx.keys.find(jws.header.get("kid"), alg)
    if key is None:
        raise TokenRejected("unknown kid")
    assert isinstance(alg, str)
    try:
        verify_signature(jws, key.key.public_key(), alg)
    except JoseError as exc:
        raise TokenRejected(f"bad signature: {exc.code}") from exc
    claims = jws.payload
    if claims.get("iss") != ctx.settings.issuer_url:
        raise TokenRejected("not our issuer")
    for name in STRING_CLAIMS:
        if not isinstance(claims.get(name), str):
            raise TokenRejected(f"claim {name} missing")
    for name in INT_CLAIMS:
        value = claims.get(name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise TokenRejected(f"claim {name} missing")
    if chain.holder(claims.get("act")) != claims["client_id"]:
        raise TokenRejected("malformed chain")
    if check_exp and claims["exp"] <= moment:
        raise TokenRejected("expired", "subject_token_expired")
    nbf = claims.get("nbf")
    if nbf is not None and (not isinstance(nbf, int) or isinstance(nbf, bool) or nbf > moment):
        raise TokenRejected("not yet valid")
    row = ctx.db.query_one("SELECT grant_id, client_id FROM tokens WHERE jti = ?", (claims["jti"],))
    if (
        row is None
        or row["grant_id"] != claims["grant_id"]
        or row["client_id"] != claims["client_id"]
    ):
        raise TokenRejected("token not recorded")
    return claims


def usable_grant(ctx: IssuerContext, claims: dict[str, Any], now: int | None = None) -> Grant:
    """The token's grant when it is active and the token's lineage is not revoked."""
    if lineage_revoked(ctx.db, claims["jti"]):
        raise TokenRejected("token or an ancestor revoked", "subject_token_revoked")
    grant = get_grant(ctx.db, claims["grant_id"], now)
    if grant is None or grant.status != "active":
        expired = grant is not None and grant.status == "expired"
        raise TokenRejected("grant not active", "grant_expired" if expired else "grant_revoked")
    return grant
