"""Step 9 — issuer (MCPA-VER-014): ``iss`` identical to the configured issuer."""

from __future__ import annotations

from mcp_auth.reference.errors import InvalidToken
from mcp_auth.reference.verifier.context import VerificationContext

REQUIREMENT = "MCPA-VER-014"


def check_issuer(ctx: VerificationContext) -> None:
    if ctx.claims["iss"] != ctx.settings.issuer:
        raise InvalidToken("token issuer is not trusted", requirement=REQUIREMENT)
