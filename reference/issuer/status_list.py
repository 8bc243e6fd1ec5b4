"""Status list tokens (draft-ietf-oauth-status-list, MCPA-REV-001, 002, 008, 011, 019).

Each list ``{issuer}/status/{list_id}`` has a fixed size (``status_allocation``); bit ``i``
is byte ``i // 8``, bit ``i % 8`` (least significant first), 1 = INVALID. A grant's bit is
set when it is revoked (or recorded expired), so one bit stops every token derived from it
on every hop.

``SignedLists`` keeps one signed token per list and signs a new one only when a bit of
the list changed (the list's ``version`` in the database, bumped in the transaction that
changed the bit) or when the held token is older than half its ``ttl``; so any number of
anonymous ``GET``s costs one indexed lookup each, and a revocation is visible at once.
"""

from __future__ import annotations

import hashlib
import threading
import time
import zlib
from dataclasses import dataclass
from typing import Any

from ..jose import b64url_decode, b64url_encode
from .grants import invalid_indices
from .keys import KeyStore
from .settings import STATUS_LIST_BITS, Settings
from .status_allocation import retire_due
from .storage import Database

MEDIA_TYPE = "application/statuslist+jwt"
TOKEN_TYP = "statuslist+jwt"  # noqa: S105
# How long a signed list stays valid; ``ttl`` (cache lifetime) is the issuer's max age.
TOKEN_VALIDITY = 300


def encode_bits(indices: list[int], size: int = STATUS_LIST_BITS) -> str:
    """``lst``: base64url(zlib(bytes)) with the given bits set."""
    data = bytearray(size // 8)
    for idx in indices:
        if not 0 <= idx < size:
            raise ValueError("status index out of range")
        data[idx // 8] |= 1 << (idx % 8)
    return b64url_encode(zlib.compress(bytes(data), 9))


def bit_is_set(lst: str, idx: int) -> bool:
    data = zlib.decompress(b64url_decode(lst))
    return bool(data[idx // 8] >> (idx % 8) & 1)


def status_list_claims(
    db: Database, settings: Settings, list_id: str, size: int, now: int
) -> dict[str, Any]:
    return {
        "sub": settings.status_list_uri(list_id),
        "iss": settings.issuer_url,
        "iat": now,
        "exp": now + TOKEN_VALIDITY,
        "ttl": settings.status_list_max_age,
        "status_list": {"bits": 1, "lst": encode_bits(invalid_indices(db, list_id), size)},
    }


@dataclass(frozen=True)
class SignedList:
    token: str
    iat: int
    version: int
    etag: str

    def max_age(self, settings: Settings, now: int) -> int:
        """``Cache-Control: max-age``: until this token is due for re-signing (MCPA-REV-019)."""
        return max(0, self.iat + refresh_after(settings) - now)


def refresh_after(settings: Settings) -> int:
    """Age at which a held list token is re-signed: half its ``ttl``."""
    return settings.status_list_max_age // 2


class SignedLists:
    """One cached signed token per list id; ``builds`` counts the signatures made."""

    def __init__(self, db: Database, keys: KeyStore, settings: Settings) -> None:
        self.db = db
        self.keys = keys
        self.settings = settings
        self.builds = 0
        self._held: dict[str, SignedList] = {}
        self._lock = threading.Lock()

    def get(self, list_id: str, now: int | None = None) -> SignedList | None:
        """The list's current signed token, or None for an unknown or retired list."""
        moment = int(time.time()) if now is None else now
        row = self.db.query_one(
            "SELECT size, version, retired_at, allocated, last_expires_at FROM status_lists "
            "WHERE list_id = ?",
            (list_id,),
        )
        if row is None:
            return None
        if (
            row["retired_at"] is None
            and row["allocated"] >= row["size"]
            and (row["last_expires_at"] + self.settings.status_list_retire_margin <= moment)
        ):
            with self.db.transaction() as conn:
                retire_due(conn, moment, self.settings.status_list_retire_margin)
            return self.get(list_id, moment)
        if row["retired_at"] is not None:
            with self._lock:
                self._held.pop(list_id, None)
            return None
        with self._lock:
            held = self._held.get(list_id)
            if (
                held is not None
                and held.version == row["version"]
                and moment - held.iat < refresh_after(self.settings)
                and held.iat <= moment
            ):
                return held
            claims = status_list_claims(self.db, self.settings, list_id, row["size"], moment)
            token = self.keys.sign({"typ": TOKEN_TYP}, claims, self.settings.token_alg)
            etag = '"' + hashlib.sha256(token.encode("ascii")).hexdigest()[:32] + '"'
            held = SignedList(token, moment, int(row["version"]), etag)
            self._held[list_id] = held
            self.builds += 1
            return held


def status_list_token(
    db: Database, keys: KeyStore, settings: Settings, list_id: str, now: int | None = None
) -> str:
    """A freshly signed token for ``list_id`` (no cache; tests and tools)."""
    moment = int(time.time()) if now is None else now
    row = db.query_one("SELECT size FROM status_lists WHERE list_id = ?", (list_id,))
    if row is None:
        raise KeyError(list_id)
    claims = status_list_claims(db, settings, list_id, int(row["size"]), moment)
    return keys.sign({"typ": TOKEN_TYP}, claims, settings.token_alg)
