"""Step 1 — extract the credentials (MCPA-VER-002, -003, -004, -034).

``extract_credentials(headers)`` reads raw ASGI headers. It returns ``None`` when the
request carries no ``Authorization`` field (answer: 401 challenge without ``error``,
MCPA-VER-002 — also when only a ``DPoP`` field or a query/body token is present,
MCPA-VER-034), else ``Credentials(token, proof)``; it raises ``InvalidRequest``
(400, MCPA-VER-004) for repeated or combined fields and malformed values and
``InvalidToken`` (401, MCPA-VER-003) for a scheme other than ``DPoP``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from mcp_auth.reference.errors import InvalidRequest, InvalidToken

REQ_NO_CREDENTIALS = "MCPA-VER-002"
REQ_SCHEME = "MCPA-VER-003"
REQ_MALFORMED = "MCPA-VER-004"

_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


@dataclass(frozen=True, slots=True)
class Credentials:
    token: str
    proof: str | None


def extract_credentials(headers: Iterable[tuple[bytes, bytes]]) -> Credentials | None:
    """Step 1 over ASGI ``(name, value)`` pairs (names lower-case, as ASGI requires)."""
    authorization: list[bytes] = []
    dpop: list[bytes] = []
    for name, value in headers:
        if name == b"authorization":
            authorization.append(value)
        elif name == b"dpop":
            dpop.append(value)
    if not authorization:
        return None
    if len(authorization) > 1:
        raise InvalidRequest("repeated Authorization header", requirement=REQ_MALFORMED)
    if len(dpop) > 1:
        raise InvalidRequest("repeated DPoP header", requirement=REQ_MALFORMED)
    raw_value = authorization[0]
    if b"," in raw_value:
        raise InvalidRequest("malformed Authorization header", requirement=REQ_MALFORMED)
    try:
        text = raw_value.decode("ascii")
    except UnicodeDecodeError:
        raise InvalidRequest("malformed Authorization header", requirement=REQ_MALFORMED) from None
    scheme, space, token = text.partition(" ")
    if scheme.lower() != "dpop":
        if not scheme or not space:
            raise InvalidRequest("malformed Authorization header", requirement=REQ_MALFORMED)
        description = (
            "DPoP-bound token presented as bearer"
            if scheme.lower() == "bearer"
            else "authorization scheme must be DPoP"
        )
        raise InvalidToken(description, requirement=REQ_SCHEME)
    if not space or _TOKEN68.fullmatch(token) is None:
        raise InvalidRequest("malformed Authorization header", requirement=REQ_MALFORMED)
    proof: str | None = None
    if dpop:
        raw_proof = dpop[0]
        if b"," in raw_proof:
            raise InvalidRequest("repeated DPoP header", requirement=REQ_MALFORMED)
        # Not ASCII: leave it to step 12, which refuses it as a malformed proof.
        proof = raw_proof.decode("latin-1").strip(" \t")
    return Credentials(token, proof)
