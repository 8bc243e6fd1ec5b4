"""Step 8 — required claims present with their types (MCPA-VER-013).

Strings: ``iss sub aud client_id jti scope grant_id``; integers (never booleans or
floats): ``iat exp`` and ``nbf`` when present; ``cnf.jkt`` string;
``status.mcpa_grant_list`` with a non-negative integer ``idx`` and a string ``uri`` (other
members of ``status``, other status mechanisms, are ignored: MCPA-TOK-021); ``act`` an
object. An array ``aud`` fails here.
"""

from __future__ import annotations

from typing import Final

from mcp_auth.reference.errors import InvalidToken
from mcp_auth.reference.verifier.context import VerificationContext

REQUIREMENT = "MCPA-VER-013"
STRING_CLAIMS: Final = ("iss", "sub", "aud", "client_id", "jti", "scope", "grant_id")


def _fail(name: str) -> InvalidToken:
    return InvalidToken(f"token claim {name} missing or of the wrong type", requirement=REQUIREMENT)


def check_claims(ctx: VerificationContext) -> None:
    claims = ctx.claims
    for name in STRING_CLAIMS:
        if type(claims.get(name)) is not str:
            raise _fail(name)
    for name in ("iat", "exp"):
        if type(claims.get(name)) is not int:
            raise _fail(name)
    if "nbf" in claims and type(claims["nbf"]) is not int:
        raise _fail("nbf")
    cnf = claims.get("cnf")
    if type(cnf) is not dict or type(cnf.get("jkt")) is not str:
        raise _fail("cnf")
    status = claims.get("status")
    status_list = status.get("mcpa_grant_list") if type(status) is dict else None
    if (
        type(status_list) is not dict
        or type(status_list.get("idx")) is not int
        or status_list["idx"] < 0
        or type(status_list.get("uri")) is not str
    ):
        raise _fail("status")
    if type(claims.get("act")) is not dict:
        raise _fail("act")
