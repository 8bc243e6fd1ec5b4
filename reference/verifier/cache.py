"""Verified-token cache (MCPA-VER-031, -045, -046).

Keyed by the SHA-256 digest of the token string; bounded; an entry never outlives the
token's ``exp + skew``. It remembers what steps 3–8 and 13 established (header, claims,
key id, chain) so a reused token skips parsing, key lookup, signature, claim typing and
chain checks. Time, DPoP proof (with replay), scope and status still run every request.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, NamedTuple

from mcp_auth.reference.jose import VerificationKey
from mcp_auth.reference.verifier.principal import Hop, Principal


class CachedToken(NamedTuple):  # a tuple: cheapest immutable record to build
    header: dict[str, Any]
    claims: dict[str, Any]
    key: VerificationKey | None
    chain: tuple[Hop, ...]
    scopes: frozenset[str]
    principal: Principal
    ath: str | None
    expires_at: float


class VerifiedTokenCache:
    """Bounded, thread-safe map ``sha256(token) -> CachedToken``."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, CachedToken] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def __bool__(self) -> bool:
        return True

    def get(self, digest: bytes, now: float) -> CachedToken | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if now >= entry.expires_at:
            with self._lock:
                self._entries.pop(digest, None)
            return None
        return entry

    def put(self, digest: bytes, entry: CachedToken, now: float) -> None:
        if self.max_entries <= 0 or now >= entry.expires_at:
            return
        with self._lock:
            entries = self._entries
            if digest not in entries and len(entries) >= self.max_entries:
                expired = [d for d, e in entries.items() if now >= e.expires_at]
                for d in expired:
                    del entries[d]
                while len(entries) >= self.max_entries:
                    entries.popitem(last=False)  # oldest first: re-verifying is only work
            entries[digest] = entry

    def retain_kids(self, kids: frozenset[str]) -> None:
        """Drop entries verified with a key no longer in the JWK Set (MCPA-VER-046)."""
        with self._lock:
            for digest in [
                d for d, e in self._entries.items() if e.key is None or e.key.kid not in kids
            ]:
                del self._entries[digest]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
