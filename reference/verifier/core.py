"""The verification algorithm (spec section 5.2): an explicit, ordered list of steps.

``verify(token, proof, method, url, settings, keys, status, now, replay_cache,
required_scopes=None) -> Principal`` runs steps 2–15 in order and stops at the first
failure (MCPA-VER-001); step 1 (header extraction) is ``extract.extract_credentials``.
Key and status lookups are injected, so this function does no I/O. Every failure is an
``OAuthError`` subclass from ``mcp_auth.reference.errors`` carrying ``requirement``,
``error`` and ``status``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Final

from mcp_auth.reference.dpop import ReplayCache
from mcp_auth.reference.verifier.alg import check_alg_and_header
from mcp_auth.reference.verifier.audience import check_audience
from mcp_auth.reference.verifier.chain import check_chain
from mcp_auth.reference.verifier.claims import check_claims
from mcp_auth.reference.verifier.context import KeyLookup, StatusLookup, VerificationContext
from mcp_auth.reference.verifier.issuer import check_issuer
from mcp_auth.reference.verifier.key import select_key
from mcp_auth.reference.verifier.lifetime import check_time
from mcp_auth.reference.verifier.parse import parse_token
from mcp_auth.reference.verifier.principal import Principal
from mcp_auth.reference.verifier.proof import check_dpop
from mcp_auth.reference.verifier.scope import check_scope
from mcp_auth.reference.verifier.settings import VerifierSettings, scope_set
from mcp_auth.reference.verifier.signature import check_signature
from mcp_auth.reference.verifier.status import check_status
from mcp_auth.reference.verifier.token_size import check_token_size
from mcp_auth.reference.verifier.typ import check_typ


@dataclass(frozen=True, slots=True)
class Step:
    """One step of the algorithm. ``cacheable`` steps may be skipped for a token found in
    the verified-token cache (MCPA-VER-031: steps 3–8 and 13)."""

    number: int
    name: str
    check: Callable[[VerificationContext], None]
    requirements: tuple[str, ...]
    cacheable: bool = False


STEPS: Final[tuple[Step, ...]] = (
    Step(2, "size", check_token_size, ("MCPA-VER-005",)),
    Step(3, "parse", parse_token, ("MCPA-VER-006",), cacheable=True),
    Step(4, "typ", check_typ, ("MCPA-VER-007",), cacheable=True),
    Step(5, "alg", check_alg_and_header, ("MCPA-VER-008", "MCPA-VER-009", "MCPA-VER-010"),
         cacheable=True),
    Step(6, "key", select_key, ("MCPA-VER-011", "MCPA-VER-033"), cacheable=True),
    Step(7, "signature", check_signature, ("MCPA-VER-012",), cacheable=True),
    Step(8, "claims", check_claims, ("MCPA-VER-013",), cacheable=True),
    Step(9, "issuer", check_issuer, ("MCPA-VER-014",)),
    Step(10, "audience", check_audience, ("MCPA-VER-015",)),
    Step(11, "time", check_time, ("MCPA-VER-016", "MCPA-VER-017")),
    Step(12, "dpop", check_dpop, ("MCPA-VER-018", "MCPA-VER-019", "MCPA-VER-020",
                                  "MCPA-VER-021", "MCPA-VER-022", "MCPA-VER-023",
                                  "MCPA-VER-024")),
    Step(13, "chain", check_chain, ("MCPA-VER-025", "MCPA-VER-026"), cacheable=True),
    Step(14, "scope", check_scope, ("MCPA-VER-027",)),
    Step(15, "status", check_status, ("MCPA-VER-028", "MCPA-VER-029")),
)  # fmt: skip

KEY_STEP: Final = STEPS[4]
CHAIN_STEP: Final = STEPS[11]
STATUS_STEP: Final = STEPS[-1]
assert KEY_STEP.number == 6 and CHAIN_STEP.number == 13 and STATUS_STEP.number == 15


def principal_from(ctx: VerificationContext) -> Principal:
    """The principal of a context on which every step has passed."""
    claims = ctx.claims
    return Principal(  # positional: cheaper than keywords on every first sight
        claims["sub"],
        claims["grant_id"],
        claims["client_id"],
        ctx.scopes if ctx.scopes is not None else frozenset(),
        ctx.chain,
        claims["act"],
        claims,
        claims["jti"],
        claims["exp"],
        claims["cnf"]["jkt"],
    )


def verify(  # noqa: PLR0917 - the documented positional signature
    token: str,
    proof: str | None,
    method: str,
    url: str,
    settings: VerifierSettings,
    keys: KeyLookup,
    status: StatusLookup,
    now: float,
    replay_cache: ReplayCache,
    required_scopes: Collection[str] | str | None = None,
) -> Principal:
    """Verify a delegation token and its DPoP proof for one request (steps 2–15).

    ``url`` is the request's target URI as the client addressed it (for ``htu``).
    ``required_scopes`` defaults to ``settings.required_scopes``.
    """
    ctx = VerificationContext(
        token=token,
        proof=proof,
        method=method,
        url=url,
        settings=settings,
        keys=keys,
        status=status,
        now=now,
        replay_cache=replay_cache,
        required_scopes=(
            settings.required_scopes if required_scopes is None else scope_set(required_scopes)
        ),
    )
    for step in STEPS:
        step.check(ctx)
    return principal_from(ctx)
