"""Client authentication: ``private_key_jwt`` (RFC 7523; MCPA-CLA-001..005).

Checks, in order; every failure is 401 ``invalid_client`` with a generic description
(the reason goes to the log only):

1. ``client_assertion_type`` is jwt-bearer and ``client_assertion`` present, ≤ 4096 bytes;
2. the assertion parses (strict compact JWS) and its header ``alg`` is ES256 or Ed25519
   (or the deprecated alias EdDSA, RFC 9864),
   with no ``jku``/``x5u``/``jwk``/``x5c``/``crit``, and its ``typ`` is not that of
   another MCP-Auth JWT (``mcpa+jwt``, ``dpop+jwt``, ``statuslist+jwt``);
3. ``iss`` names a registered client and ``sub`` = ``iss``;
4. exactly one of the client's keys matches ``kid``/``alg``, and the signature verifies;
5. ``aud`` is the issuer identifier alone: the string, or an array whose only element it
   is (rfc7523bis); an endpoint URL is refused, at every endpoint (MCPA-CLA-011);
6. ``exp`` in the future (30 s skew) and at most 300 s after receipt; ``exp - iat`` ≤ 300;
7. ``jti`` never seen before for this client — recorded in SQLite, so a replay is refused
   across restarts (MCPA-CLA-003).
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from ..errors import InvalidClient
from ..jose import (
    ALLOWED_ALGS,
    JoseError,
    load_jwks,
    parse_compact,
    same_alg,
    verify_signature,
)
from .clients import Client, get_client
from .metadata import JWT_BEARER_ASSERTION
from .settings import ASSERTION_MAX_LIFETIME, CLOCK_SKEW, MAX_ASSERTION_BYTES
from .storage import Database

FORBIDDEN_HEADERS = ("jku", "x5u", "jwk", "x5c", "crit")
# MCPA-CLA-010: no other MCP-Auth JWT passes as a client assertion (RFC 8725 section 3.12).
FOREIGN_TYPS = frozenset({"mcpa+jwt", "dpop+jwt", "statuslist+jwt"})
GENERIC = "client authentication failed"


def _fail(detail: str, requirement: str = "MCPA-CLA-011") -> InvalidClient:
    return InvalidClient(GENERIC, requirement=requirement, detail=detail)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def verify_assertion(
    db: Database,
    assertion: object,
    issuer: str,
    *,
    now: int | None = None,
    expected_client_id: str | None = None,
) -> Client:
    """Verify a client assertion and consume its ``jti``; return the client."""
    moment = int(time.time()) if now is None else now
    if not isinstance(assertion, str) or not assertion:
        raise _fail("no client assertion", "MCPA-CLA-001")
    if len(assertion.encode("utf-8")) > MAX_ASSERTION_BYTES:
        raise _fail("client assertion too large", "MCPA-GEN-003")
    try:
        jws = parse_compact(assertion, max_length=MAX_ASSERTION_BYTES)
    except JoseError as exc:
        raise _fail(f"assertion does not parse: {exc.code}") from exc
    alg = jws.header.get("alg")
    if alg not in ALLOWED_ALGS:
        raise _fail("assertion alg not allowed", "MCPA-CLA-004")
    for name in FORBIDDEN_HEADERS:
        if name in jws.header:
            raise _fail(f"assertion header carries {name}", "MCPA-CLA-008")
    typ = jws.header.get("typ")
    if isinstance(typ, str) and typ.lower().removeprefix("application/") in FOREIGN_TYPS:
        raise _fail("assertion typ is another MCP-Auth JWT", "MCPA-CLA-010")
    claims = jws.payload
    iss = claims.get("iss")
    if not isinstance(iss, str) or claims.get("sub") != iss:
        raise _fail("assertion iss/sub missing or different")
    if expected_client_id is not None and expected_client_id != iss:
        raise _fail("client_id parameter differs from assertion iss", "MCPA-CLA-009")
    client = get_client(db, iss) if len(iss) <= 256 else None
    if client is None:
        raise _fail("unknown client")
    assert isinstance(alg, str)
    try:
        keyset = load_jwks(client.jwks)
        kid = jws.header.get("kid")
        if kid is None:
            candidates = [k for k in keyset.keys if same_alg(k.alg, alg)]
            if len(candidates) != 1:
                raise JoseError("unknown_kid", "no kid and not exactly one key for alg")
            key = candidates[0]
        else:
            key = keyset.select(kid, alg)
        verify_signature(jws, key.key, alg)
    except JoseError as exc:
        raise _fail(f"assertion signature: {exc.code}", "MCPA-CLA-007") from exc
    _check_audience(claims.get("aud"), issuer)
    _check_times(claims, moment)
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= 256:
        raise _fail("assertion jti missing")
    _consume_jti(db, client.client_id, jti, int(claims["exp"]), moment)
    return client


def _check_audience(aud: object, issuer: str) -> None:
    """``aud`` is the issuer identifier as its sole value (MCPA-CLA-011, rfc7523bis).

    A string, or an array with exactly one element; the token endpoint URL and every
    other endpoint URL are refused, whichever endpoint received the assertion.
    """
    if isinstance(aud, list) and len(aud) == 1:
        aud = aud[0]
    if not isinstance(aud, str):
        raise _fail("assertion aud missing or not a single value")
    if aud != issuer:
        raise _fail("assertion aud is not this issuer's identifier")


def _check_times(claims: dict[str, Any], now: int) -> None:
    exp = claims.get("exp")
    if not _is_int(exp):
        raise _fail("assertion exp missing")
    assert isinstance(exp, int)
    if exp <= now - CLOCK_SKEW:
        raise _fail("assertion expired", "MCPA-CLA-004")
    if exp > now + ASSERTION_MAX_LIFETIME:
        raise _fail("assertion lifetime too long", "MCPA-CLA-004")
    iat = claims.get("iat")
    if iat is not None:
        if not _is_int(iat):
            raise _fail("assertion iat malformed")
        assert isinstance(iat, int)
        if iat > now + CLOCK_SKEW:
            raise _fail("assertion issued in the future")
        if exp - iat > ASSERTION_MAX_LIFETIME:
            raise _fail("assertion lifetime too long", "MCPA-CLA-004")
    nbf = claims.get("nbf")
    if nbf is not None and (
        not isinstance(nbf, int) or isinstance(nbf, bool) or nbf > now + CLOCK_SKEW
    ):
        raise _fail("assertion not yet valid")


def _consume_jti(db: Database, client_id: str, jti: str, exp: int, now: int) -> None:
    with db.transaction() as conn:
        conn.execute("DELETE FROM assertion_jtis WHERE exp < ?", (now - CLOCK_SKEW,))
        try:
            conn.execute(
                "INSERT INTO assertion_jtis (client_id, jti, exp) VALUES (?, ?, ?)",
                (client_id, jti, exp),
            )
        except sqlite3.IntegrityError as exc:
            raise _fail("assertion jti replayed", "MCPA-CLA-003") from exc


def authenticate_form(
    db: Database, form: dict[str, str], issuer: str, *, now: int | None = None
) -> Client:
    """Authenticate a form request (token, revocation, introspection endpoints)."""
    assertion_type = form.get("client_assertion_type")
    if assertion_type is None and "client_assertion" not in form:
        raise _fail("no client authentication", "MCPA-CLA-001")
    if assertion_type != JWT_BEARER_ASSERTION:
        raise _fail("unsupported client_assertion_type", "MCPA-CLA-001")
    return verify_assertion(
        db,
        form.get("client_assertion"),
        issuer,
        now=now,
        expected_client_id=form.get("client_id"),
    )


def bearer_credential(authorization: str | None) -> str | None:
    """The credential of an ``Authorization: Bearer <x>`` header, else None."""
    if authorization is None:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value or " " in value.strip():
        return None
    return value.strip()
