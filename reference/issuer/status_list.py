"""Status list tokens (draft-ietf-oauth-status-list, MCPA-REV-001, 002, 008, 011, 019).

Each list ``{issuer}/status/{list_id}`` has a fixed size (``status_allocation``); bit ``i``
is byte ``i // 8``, bit ``i % 8`` (least significant first), 1 = INVALID. A grant's bit is
set when it is revoked (or recorded expired), so one bit stops every token derived from it
on every hop.

``SignedLists`` keeps, per list, the encoded bits and the last signed token. It rebuilds
the bits from the grants only when a bit of the list changed (the list's ``version`` in the
database, bumped in the transaction that changed the bit), and re-signs the held bits at
most once per ``RESIGN_AFTER`` second, so a served token is never more than a second old
(verifiers may use lists for as little as 1 s, MCPA-VER-029). Any number of anonymous
``GET``s costs one indexed lookup each, at most one signature per second per list and one
rebuild per change; a revocation is visible at once.
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
# Largest age of a served list token (MCPA-REV-019).
RESIGN_AFTER = 1


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
    db: Database, settings: Settings, list_id: str, size: int, now: int, *, lst: str | None = None
) -> dict[str, Any]:
    if lst is None:
        lst = encode_bits(invalid_indices(db, list_id), size)
    return {
        "sub": settings.status_list_uri(list_id),
        "iss": settings.issuer_url,
        "iat": now,
        "exp": now + TOKEN_VALIDITY,
        "ttl": settings.status_list_max_age,
        "status_list": {"bits": 1, "lst": lst},
    }


@dataclass(frozen=True)
class SignedList:
    token: str
    iat: int
    version: int
    etag: str

    def max_age(self, settings: Settings, now: int) -> int:
        """``Cache-Control: max-age``: until the token is half its ``ttl`` old (MCPA-REV-011)."""
        return max(0, self.iat + settings.status_list_max_age // 2 - now)


class SignedLists:
    """One cached signed token per list id; ``builds`` counts the signatures made."""

    def __init__(self, db: Database, keys: KeyStore, settings: Settings) -> None:
        self.db = db
        self.keys = keys
        self.settings = settings
        self.builds = 0  # rebuilds of a list's bits from the grants
        self.signatures = 0
        self._bits: dict[str, tuple[int, str]] = {}  # list_id -> (version, lst)
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
                self._bits.pop(list_id, None)
            return None
        version = int(row["version"])
        with self._lock:
            held = self._held.get(list_id)
            if (
                held is not None
                and held.version == version
                and 0 <= moment - held.iat < RESIGN_AFTER
            ):
                return held
            bits = self._bits.get(list_id)
            if bits is None or bits[0] != version:
                lst = encode_bits(invalid_indices(self.db, list_id), int(row["size"]))
                bits = self._bits[list_id] = (version, lst)
                self.builds += 1
            claims = status_list_claims(
                self.db, self.settings, list_id, int(row["size"]), moment, lst=bits[1]
            )
            token = self.keys.sign({"typ": TOKEN_TYP}, claims, self.settings.token_alg)
            etag = '"' + hashlib.sha256(token.encode("ascii")).hexdigest()[:32] + '"'
            held = SignedList(token, moment, version, etag)
            self._held[list_id] = held
            self.signatures += 1
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
