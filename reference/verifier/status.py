"""Step 15 — status (MCPA-VER-028 revoked / outside the issuer, MCPA-VER-029 freshness).

The URI must begin with the issuer identifier followed by exactly one ``/`` and contain no
query, fragment, empty segment (``//``) or dot segment (also percent-encoded); a URI
failing this is never fetched
(MCPA-SEC-002). The bit comes from the injected ``StatusLookup``, which holds only
usable, fresh lists (section 5.3) and fails closed with 503 otherwise.
"""

from __future__ import annotations

import functools
import re

from mcp_auth.reference.errors import InvalidToken
from mcp_auth.reference.verifier.context import VerificationContext

REQ_STATUS = "MCPA-VER-028"
REQ_UNAVAILABLE = "MCPA-VER-029"

_PCT_DOT = re.compile(r"%2[eE]")
_URI_PATH_CHARS = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*")


@functools.lru_cache(maxsize=1024)
def status_uri_allowed(uri: str, issuer: str) -> bool:
    """Whether ``uri`` may be fetched as a status list of ``issuer`` (pure, memoised)."""
    prefix = issuer if issuer.endswith("/") else issuer + "/"
    if len(uri) > 2048 or not uri.startswith(prefix):
        return False
    rest = uri[len(prefix) :]
    if _URI_PATH_CHARS.fullmatch(rest) is None:  # also excludes '?', '#', '\\', spaces
        return False
    if rest.startswith("/") or "//" in rest:  # exactly one "/", no empty segment
        return False
    segments = _PCT_DOT.sub(".", rest).split("/")
    return not any(seg in (".", "..") for seg in segments)


def status_reference(ctx: VerificationContext) -> tuple[str, int]:
    """``(uri, idx)`` of the token, or ``InvalidToken`` when the URI is not allowed."""
    status_list = ctx.claims["status"]["mcpa_grant_list"]
    uri: str = status_list["uri"]
    if not status_uri_allowed(uri, ctx.settings.issuer):
        raise InvalidToken(
            "token status list is not the issuer's", requirement=REQ_STATUS, detail="uri"
        )
    idx: int = status_list["idx"]
    return uri, idx


def check_status(ctx: VerificationContext) -> None:
    uri, idx = status_reference(ctx)
    if ctx.status.status_of(uri, idx, ctx.now) != 0:
        raise InvalidToken("token grant has been revoked", requirement=REQ_STATUS)
