"""The grant-indexed status list (draft-ietf-oauth-status-list, MCPA-REV-001..003/008/009).

One list per issuer (``list_id`` 1), 2^17 one-bit entries, bit ``i`` is byte ``i // 8``,
bit ``i % 8`` (least significant first), 1 = INVALID. A grant's bit is set when it is
revoked, denied or expired, so one bit stops every token derived from it on every hop.
The list is rebuilt from the grants table on each request: revocation is visible at once.
"""

from __future__ import annotations

import time
import zlib
from typing import Any

from ..jose import b64url_decode, b64url_encode
from .grants import invalid_indices
from .keys import KeyStore
from .settings import STATUS_LIST_BITS, Settings
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


def status_list_claims(db: Database, settings: Settings, now: int) -> dict[str, Any]:
    return {
        "sub": settings.status_list_uri,
        "iss": settings.issuer_url,
        "iat": now,
        "exp": now + TOKEN_VALIDITY,
        "ttl": settings.status_list_max_age,
        "status_list": {"bits": 1, "lst": encode_bits(invalid_indices(db))},
    }


def status_list_token(
    db: Database, keys: KeyStore, settings: Settings, now: int | None = None
) -> str:
    moment = int(time.time()) if now is None else now
    claims = status_list_claims(db, settings, moment)
    return keys.sign({"typ": TOKEN_TYP}, claims, settings.token_alg)
