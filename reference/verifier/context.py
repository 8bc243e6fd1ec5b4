"""The state one verification carries from step to step, and the injected lookups."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from mcp_auth.reference.dpop import DPoPProof, ReplayCache
from mcp_auth.reference.jose import VerificationKey
from mcp_auth.reference.verifier.principal import Hop
from mcp_auth.reference.verifier.settings import VerifierSettings


class KeyLookup(Protocol):
    """Issuer keys: exactly one key for ``kid`` usable with ``alg``, else ``JoseError``.

    ``mcp_auth.reference.jose.KeySet`` is one; the async ``IssuerKeys`` provider is another.
    """

    def select(self, kid: object, alg: str) -> VerificationKey: ...


class StatusLookup(Protocol):
    """Status of ``idx`` in the list at ``uri`` (0 = valid).

    Raises ``InvalidToken`` (MCPA-VER-028) when ``idx`` is outside the list and
    ``TemporarilyUnavailable`` (MCPA-VER-029) when no usable, fresh list is held.
    """

    def status_of(self, uri: str, idx: int, now: float) -> int: ...


@dataclass(slots=True)
class VerificationContext:
    """Inputs of one request and what the steps have established so far."""

    token: str
    proof: str | None
    method: str
    url: str
    settings: VerifierSettings
    keys: KeyLookup
    status: StatusLookup
    now: float
    replay_cache: ReplayCache
    required_scopes: frozenset[str]
    # filled in by the steps
    header: dict[str, Any] = field(default_factory=dict)
    claims: dict[str, Any] = field(default_factory=dict)
    signing_input: bytes = b""
    signature: bytes = b""
    key: VerificationKey | None = None
    chain: tuple[Hop, ...] = ()
    scopes: frozenset[str] | None = None  # the token's scopes, once parsed
    dpop: DPoPProof | None = None
    expected_ath: str | None = None  # precomputed base64url(SHA-256(token)), if known
