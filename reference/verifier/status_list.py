"""Status list tokens (draft-ietf-oauth-status-list, spec section 5.3, MCPA-VER-043).

``parse_status_list(token, uri=..., keys=..., settings=..., now=...) -> StatusList``
validates a fetched list token (steps 3–7 with ``typ`` ``statuslist+jwt``, ``sub`` equal
to the URI, ``iat``/``exp``, ``bits`` 1, bounded zlib inflation) and raises
``StatusListError`` when it is not usable. ``StatusListCache`` is a synchronous
``StatusLookup`` over lists already held; ``StaticStatus`` is a test double.
"""

from __future__ import annotations

import math
import threading
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mcp_auth.reference.errors import InvalidToken, TemporarilyUnavailable
from mcp_auth.reference.jose import (
    JoseError,
    b64url_decode,
    b64url_encode,
    parse_compact,
    verify_signature,
)
from mcp_auth.reference.verifier.context import KeyLookup
from mcp_auth.reference.verifier.settings import VerifierSettings

MAX_LIST_BYTES = 1 << 20  # body and inflated list, each at most 1 MiB
REQ_STATUS = "MCPA-VER-028"
REQ_UNAVAILABLE = "MCPA-VER-029"
STATUS_LIST_TYPES = frozenset({"statuslist+jwt", "application/statuslist+jwt"})


class StatusListError(Exception):
    """A fetched status list token is not usable (the reason is for logs only)."""


@dataclass(frozen=True, slots=True)
class StatusList:
    uri: str
    iat: int
    exp: int | None
    ttl: int | None
    data: bytes

    def fresh_until(self, max_age: int) -> float:
        """Last instant at which the list may decide status (age measured from ``iat``)."""
        limit = max_age if self.ttl is None else min(self.ttl, max_age)
        return self.iat + limit

    def usable(self, now: float, max_age: int, skew: int) -> bool:
        if now > self.fresh_until(max_age):
            return False
        return self.exp is None or self.exp > now - skew

    def bit(self, idx: int) -> int:
        byte = idx >> 3
        if byte >= len(self.data):
            raise InvalidToken(
                "token status index is outside the list", requirement=REQ_STATUS, detail="idx"
            )
        return (self.data[byte] >> (idx & 7)) & 1


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_LIST_BYTES + 1)
    except zlib.error as exc:
        raise StatusListError("lst is not a zlib stream") from exc
    if len(out) > MAX_LIST_BYTES or inflater.unconsumed_tail:
        raise StatusListError("lst inflates beyond the limit")
    if not inflater.eof or inflater.unused_data:
        raise StatusListError("lst is not exactly one complete zlib stream")
    return out


def parse_status_list(
    token: str, *, uri: str, keys: KeyLookup, settings: VerifierSettings, now: float
) -> StatusList:
    """Validate a status list token fetched from ``uri`` (MCPA-VER-043)."""
    try:
        jws = parse_compact(token, max_length=MAX_LIST_BYTES)
    except JoseError as exc:
        raise StatusListError(f"status list token does not parse: {exc.code}") from exc
    header, claims = jws.header, jws.payload
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in STATUS_LIST_TYPES:
        raise StatusListError("status list token typ")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in settings.allowed_algs:
        raise StatusListError("status list token alg")
    if any(name in header for name in ("jku", "x5u", "jwk", "x5c", "crit")):
        raise StatusListError("status list token header carries key references or crit")
    try:
        key = keys.select(header.get("kid"), alg)
        verify_signature(jws, key.key, key.alg, allowed_algs=settings.allowed_algs)
    except JoseError as exc:
        raise StatusListError(f"status list token key/signature: {exc.code}") from exc
    if claims.get("sub") != uri:
        raise StatusListError("status list sub differs from its URI")
    iat = claims.get("iat")
    if type(iat) is not int or iat > now + settings.skew:
        raise StatusListError("status list iat")
    exp = claims.get("exp")
    if exp is not None and (type(exp) is not int or not exp > now - settings.skew):
        raise StatusListError("status list exp")
    ttl = claims.get("ttl")
    if ttl is not None and (type(ttl) is not int or ttl < 0):
        raise StatusListError("status list ttl")
    status_list = claims.get("status_list")
    if type(status_list) is not dict or status_list.get("bits") != 1:
        raise StatusListError("status list bits must be 1")
    if type(status_list.get("bits")) is not int:
        raise StatusListError("status list bits must be the integer 1")
    lst = status_list.get("lst")
    if not isinstance(lst, str):
        raise StatusListError("status list lst")
    try:
        compressed = b64url_decode(lst)
    except JoseError as exc:
        raise StatusListError("status list lst is not base64url") from exc
    return StatusList(uri, iat, exp, ttl, _inflate(compressed))


class StatusListCache:
    """A synchronous ``StatusLookup`` over the usable lists it holds (bounded)."""

    def __init__(self, settings: VerifierSettings, *, max_lists: int = 64) -> None:
        self.settings = settings
        self.max_lists = max_lists
        self._lists: dict[str, StatusList] = {}
        self._lock = threading.Lock()

    def put(self, status_list: StatusList) -> None:
        with self._lock:
            if status_list.uri not in self._lists and len(self._lists) >= self.max_lists:
                self._lists.pop(next(iter(self._lists)))
            self._lists[status_list.uri] = status_list

    def get(self, uri: str, now: float) -> StatusList | None:
        """The held list for ``uri`` if it is still usable at ``now``."""
        held = self._lists.get(uri)
        if held is None or not held.usable(now, self.settings.status_max_age, self.settings.skew):
            return None
        return held

    def status_of(self, uri: str, idx: int, now: float) -> int:
        held = self.get(uri, now)
        if held is None:
            raise TemporarilyUnavailable(
                "token status cannot be checked right now",
                requirement=REQ_UNAVAILABLE,
                detail="no fresh status list",
            )
        return held.bit(idx)


class StaticStatus:
    """Test double: every index valid except those listed as revoked, per URI.

    ``unavailable`` URIs answer 503; ``size`` bounds the index (default 2**17).
    """

    def __init__(
        self,
        revoked: Mapping[str, Iterable[int]] | None = None,
        *,
        unavailable: Iterable[str] = (),
        size: int = 1 << 17,
    ) -> None:
        self.revoked = {uri: frozenset(idx) for uri, idx in (revoked or {}).items()}
        self.unavailable = frozenset(unavailable)
        self.size = size

    def status_of(self, uri: str, idx: int, now: float) -> int:
        del now
        if uri in self.unavailable:
            raise TemporarilyUnavailable(
                "token status cannot be checked right now", requirement=REQ_UNAVAILABLE
            )
        if idx >= self.size:
            raise InvalidToken("token status index is outside the list", requirement=REQ_STATUS)
        return 1 if idx in self.revoked.get(uri, frozenset()) else 0


def encode_status_list(revoked: Iterable[int], size: int = 1 << 17) -> str:
    """``lst`` for a list of ``size`` bits with ``revoked`` set (tests and benchmarks)."""
    data = bytearray(math.ceil(size / 8))
    for idx in revoked:
        data[idx >> 3] |= 1 << (idx & 7)
    return b64url_encode(zlib.compress(bytes(data), 9))
