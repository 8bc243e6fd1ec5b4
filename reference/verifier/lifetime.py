"""Step 11 — time (MCPA-VER-016 bounded skew, MCPA-VER-017 maximum lifetime)."""

from __future__ import annotations

from mcp_auth.reference.errors import InvalidToken
from mcp_auth.reference.verifier.context import VerificationContext

REQ_TIME = "MCPA-VER-016"
REQ_LIFETIME = "MCPA-VER-017"


def check_time(ctx: VerificationContext) -> None:
    claims = ctx.claims
    now = ctx.now
    skew = ctx.settings.skew
    exp: int = claims["exp"]
    iat: int = claims["iat"]
    if not exp > now - skew:
        raise InvalidToken("token expired", requirement=REQ_TIME)
    if iat > now + skew:
        raise InvalidToken("token issued in the future", requirement=REQ_TIME)
    nbf = claims.get("nbf")
    if nbf is not None and nbf > now + skew:
        raise InvalidToken("token not yet valid", requirement=REQ_TIME)
    if exp - iat > ctx.settings.max_token_lifetime:
        raise InvalidToken("token lifetime too long", requirement=REQ_LIFETIME)
