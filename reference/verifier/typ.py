"""Step 4 — explicit type (MCPA-VER-007): ``typ`` is ``mcpa+jwt``, case-insensitively."""

from __future__ import annotations

from typing import Final

from mcp_auth.reference.errors import InvalidToken
from mcp_auth.reference.verifier.context import VerificationContext

REQUIREMENT = "MCPA-VER-007"
TOKEN_TYPES: Final = frozenset({"mcpa+jwt", "application/mcpa+jwt"})


def check_typ(ctx: VerificationContext) -> None:
    typ = ctx.header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in TOKEN_TYPES:
        raise InvalidToken("token typ must be mcpa+jwt", requirement=REQUIREMENT)
