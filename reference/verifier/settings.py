"""Verifier configuration (spec section 5.1) and the limits of Appendix A."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from mcp_auth.reference.jose import ALLOWED_ALGS
from mcp_auth.reference.verifier.metadata import resource_metadata_url

#: Caps from Appendix A: a verifier may use smaller values, never larger (MCPA-VER-047).
MAX_CHAIN_DEPTH_CAP: Final = 5
MAX_TOKEN_LIFETIME_CAP: Final = 300
STATUS_MAX_AGE_CAP: Final = 60
MAX_SKEW: Final = 60
MAX_TOKEN_BYTES: Final = 8192
PROOF_MAX_AGE: Final = 60
KID_REFRESH_INTERVAL: Final = 30


@dataclass(frozen=True, slots=True)
class VerifierSettings:
    """What a resource server is configured with.

    ``issuer`` and ``resource`` are compared character for character. ``required_scopes``
    is the default set an operation needs (per-route sets are given to the middleware
    or ``require_scopes``). The three limits start at the Appendix A caps and are
    lowered to the issuer metadata's values by ``with_issuer_limits``.
    ``resource_metadata_url`` defaults to the RFC 9728 path-inserted well-known URL of
    ``resource``.
    """

    issuer: str
    resource: str
    required_scopes: frozenset[str] = frozenset()
    skew: int = 30
    max_chain_depth: int = MAX_CHAIN_DEPTH_CAP
    max_token_lifetime: int = MAX_TOKEN_LIFETIME_CAP
    status_max_age: int = STATUS_MAX_AGE_CAP
    proof_max_age: int = PROOF_MAX_AGE
    allowed_algs: tuple[str, ...] = ALLOWED_ALGS
    resource_metadata_url: str = ""
    scopes_supported: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not 0 <= self.skew <= MAX_SKEW:
            raise ValueError(f"skew must be between 0 and {MAX_SKEW} seconds")
        if not 1 <= self.max_chain_depth <= MAX_CHAIN_DEPTH_CAP:
            raise ValueError(f"max_chain_depth must be between 1 and {MAX_CHAIN_DEPTH_CAP}")
        if not 1 <= self.max_token_lifetime <= MAX_TOKEN_LIFETIME_CAP:
            raise ValueError("max_token_lifetime out of range")
        if not 1 <= self.status_max_age <= STATUS_MAX_AGE_CAP:
            raise ValueError("status_max_age out of range")
        if not set(self.allowed_algs) <= set(ALLOWED_ALGS) or not self.allowed_algs:
            raise ValueError(f"allowed_algs must be a non-empty subset of {ALLOWED_ALGS}")
        if not self.resource_metadata_url:
            object.__setattr__(self, "resource_metadata_url", resource_metadata_url(self.resource))
        object.__setattr__(self, "required_scopes", frozenset(self.required_scopes))

    def with_issuer_limits(self, metadata: Mapping[str, Any]) -> VerifierSettings:
        """Lower the limits to the issuer's advertised values (never raise them)."""
        changes: dict[str, Any] = {}
        for member, attr in (
            ("mcpa_max_chain_depth", "max_chain_depth"),
            ("mcpa_max_token_lifetime", "max_token_lifetime"),
            ("mcpa_status_list_max_age", "status_max_age"),
        ):
            value = metadata.get(member)
            if type(value) is int and value >= 1:
                changes[attr] = min(value, getattr(self, attr))
        return dataclasses.replace(self, **changes) if changes else self


def scope_set(scopes: str | Collection[str] | None) -> frozenset[str]:
    """A set of scope tokens from a space-separated string or a collection."""
    if scopes is None:
        return frozenset()
    if isinstance(scopes, str):
        return frozenset(s for s in scopes.split(" ") if s)
    return frozenset(scopes)
