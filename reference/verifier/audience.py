"""Step 10 — audience (MCPA-VER-015): ``aud`` identical to this resource identifier."""

from __future__ import annotations

from mcp_auth.reference.errors import InvalidToken
from mcp_auth.reference.verifier.context import VerificationContext

REQUIREMENT = "MCPA-VER-015"


def check_audience(ctx: VerificationContext) -> None:
    if ctx.claims["aud"] != ctx.settings.resource:
        raise InvalidToken("token audience is not this resource", requirement=REQUIREMENT)
