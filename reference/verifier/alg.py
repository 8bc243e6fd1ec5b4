"""Step 5 — algorithm allow-list and forbidden header parameters.

MCPA-VER-008: ``alg`` exactly on the allow-list, before any key is looked up.
MCPA-VER-009: ``jku``, ``x5u``, ``jwk``, ``x5c`` refused and never dereferenced.
MCPA-VER-010: ``crit`` refused.
"""

from __future__ import annotations

from typing import Final

from mcp_auth.reference.errors import InvalidToken
from mcp_auth.reference.verifier.context import VerificationContext

REQ_ALG = "MCPA-VER-008"
REQ_KEY_HEADERS = "MCPA-VER-009"
REQ_CRIT = "MCPA-VER-010"
KEY_HEADERS: Final = ("jku", "x5u", "jwk", "x5c")


def check_alg_and_header(ctx: VerificationContext) -> None:
    header = ctx.header
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ctx.settings.allowed_algs:
        raise InvalidToken("token alg not allowed", requirement=REQ_ALG)
    for name in KEY_HEADERS:
        if name in header:
            raise InvalidToken(
                "token header must not reference keys", requirement=REQ_KEY_HEADERS, detail=name
            )
    if "crit" in header:
        raise InvalidToken("token header must not contain crit", requirement=REQ_CRIT)
