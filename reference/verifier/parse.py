"""Step 3 — parse (MCPA-VER-006): three strict base64url segments, JSON objects.

Hot path: one compiled-regex ``fullmatch`` over the whole token, C base64 decoding per
segment and one ``json.loads`` per JSON segment (see ``mcp_auth.reference.jose``).
"""

from __future__ import annotations

from mcp_auth.reference.errors import InvalidToken
from mcp_auth.reference.jose import JoseError, parse_compact
from mcp_auth.reference.verifier.context import VerificationContext
from mcp_auth.reference.verifier.settings import MAX_TOKEN_BYTES

REQUIREMENT = "MCPA-VER-006"


def parse_token(ctx: VerificationContext) -> None:
    try:
        jws = parse_compact(ctx.token, max_length=MAX_TOKEN_BYTES)
    except JoseError as exc:
        raise InvalidToken(
            "token is not a well-formed JWT", requirement=REQUIREMENT, detail=exc.code
        ) from None
    ctx.header = jws.header
    ctx.claims = jws.payload
    ctx.signing_input = jws.signing_input
    ctx.signature = jws.signature
