"""Step 7 — signature (MCPA-VER-012): ES256 64-byte ``r || s`` with range check, Ed25519."""

from __future__ import annotations

from mcp_auth.reference.errors import InvalidToken
from mcp_auth.reference.jose import JoseError, RawJWS, verify_signature
from mcp_auth.reference.verifier.context import VerificationContext

REQUIREMENT = "MCPA-VER-012"


def check_signature(ctx: VerificationContext) -> None:
    key = ctx.key
    assert key is not None
    jws = RawJWS(ctx.header, b"", ctx.signing_input, ctx.signature)
    try:
        verify_signature(jws, key.key, key.alg, allowed_algs=ctx.settings.allowed_algs)
    except JoseError as exc:
        raise InvalidToken(
            "token signature is invalid", requirement=REQUIREMENT, detail=exc.code
        ) from None
