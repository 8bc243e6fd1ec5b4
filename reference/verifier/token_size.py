"""Step 2 — size (MCPA-VER-005): at most 8192 bytes, before decoding anything."""

from __future__ import annotations

from mcp_auth.reference.errors import InvalidToken
from mcp_auth.reference.verifier.context import VerificationContext
from mcp_auth.reference.verifier.settings import MAX_TOKEN_BYTES

REQUIREMENT = "MCPA-VER-005"


def check_token_size(ctx: VerificationContext) -> None:
    token = ctx.token
    # The token came from an ASCII header value; len() counts bytes for ASCII text.
    if len(token) > MAX_TOKEN_BYTES or (
        not token.isascii() and len(token.encode("utf-8", "surrogatepass")) > MAX_TOKEN_BYTES
    ):
        raise InvalidToken("token too large", requirement=REQUIREMENT)
