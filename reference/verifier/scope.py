"""Step 14 — scope (MCPA-VER-027): the required scopes are among the token's scopes."""

from __future__ import annotations

from mcp_auth.reference.errors import InsufficientScope
from mcp_auth.reference.verifier.context import VerificationContext

REQUIREMENT = "MCPA-VER-027"


def token_scopes(scope: str) -> frozenset[str]:
    return frozenset(s for s in scope.split(" ") if s)


def check_scope(ctx: VerificationContext) -> None:
    scopes = ctx.scopes
    if scopes is None:  # a cached token brings its parsed scope set
        scopes = ctx.scopes = token_scopes(ctx.claims["scope"])
    if not ctx.required_scopes <= scopes:
        raise InsufficientScope("the operation needs more scope", requirement=REQUIREMENT)
