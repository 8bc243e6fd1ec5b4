"""Step 6 — key resolution (MCPA-VER-011, MCPA-VER-033).

``kid`` selects exactly one key of the issuer's JWK Set compatible with ``alg``. The
refresh on an unknown ``kid`` (at most once per 30 s) is the async provider's job: the
``Verifier`` retries this step once after ``IssuerKeys.refresh_for_unknown_kid``.
"""

from __future__ import annotations

from mcp_auth.reference.errors import InvalidToken
from mcp_auth.reference.jose import JoseError
from mcp_auth.reference.verifier.context import VerificationContext

REQUIREMENT = "MCPA-VER-011"


class UnknownKid(InvalidToken):
    """No key for this ``kid``: the one failure of step 6 that a JWKS refresh may cure."""


def select_key(ctx: VerificationContext) -> None:
    alg = ctx.header["alg"]
    try:
        ctx.key = ctx.keys.select(ctx.header.get("kid"), alg)
    except JoseError as exc:
        cls = UnknownKid if exc.code == "unknown_kid" else InvalidToken
        raise cls(
            "no issuer key matches the token kid", requirement=REQUIREMENT, detail=exc.code
        ) from None
