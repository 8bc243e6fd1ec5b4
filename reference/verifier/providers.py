"""Async providers of issuer keys and status lists (network I/O lives only here).

``IssuerKeys(settings, client)``
    Fetches the issuer's RFC 8414 metadata from the well-known URL derived from the
    configured issuer (path-inserted), checks that its ``issuer`` equals the configured
    identifier (MCPA-DSC-002), fetches the JWK Set from ``jwks_uri`` and keeps both.
    Re-fetched when older than the response ``max-age`` (default 300 s, at least 30 s,
    MCPA-VER-041);
    a copy older than 24 h is never used (MCPA-VER-040); with no usable copy the
    request fails closed with 503 (MCPA-VER-042). An unknown ``kid`` triggers at most
    one re-fetch per 30 s (MCPA-VER-033). Redirects are never followed and count as a
    failure (MCPA-VER-039); bodies are capped at 1 MiB. Keys never come from token
    headers. ``select(kid, alg)`` is the synchronous ``KeyLookup`` used by the steps.
``StatusLists(settings, client, keys)``
    A ``StatusListCache`` that fetches ``GET <uri>`` (``Accept:
    application/statuslist+jwt``) when it holds no usable list for a URI, validates it
    (``status_list.parse_status_list``) and keeps the last usable one. Callers must have
    checked the URI with ``status.status_uri_allowed`` first (the ``Verifier`` does).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import math
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from mcp_auth.reference.errors import TemporarilyUnavailable
from mcp_auth.reference.jose import (
    JoseError,
    KeySet,
    VerificationKey,
    jwk_thumbprint,
    load_jwks,
)
from mcp_auth.reference.verifier.settings import KID_REFRESH_INTERVAL, VerifierSettings
from mcp_auth.reference.verifier.status_list import (
    StatusList,
    StatusListCache,
    StatusListError,
    parse_status_list,
)

log = logging.getLogger("mcp_auth.reference.verifier")

MAX_BODY = 1 << 20
DEFAULT_MAX_AGE = 300
MIN_MAX_AGE = 30
MAX_COPY_AGE = 24 * 3600
RETRY_INTERVAL = 5  # seconds between attempts after a failed metadata/JWKS fetch
REQ_KEYS_UNAVAILABLE = "MCPA-VER-042"
_MAX_AGE_RE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d{1,9})\"?\s*(?:,|$)", re.IGNORECASE)


class FetchError(Exception):
    """Retrieval failed (network, status, redirect, size, content). Logged, never sent."""


def authorization_server_metadata_url(issuer: str) -> str:
    """RFC 8414 section 3.1: the well-known URI inserted between host and path."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server{path}"


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_fetch_url(url: str) -> bool:
    """HTTPS, or HTTP to a loopback host (MCPA-GEN-001); no userinfo."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return False
    if parts.username is not None or parts.password is not None or not parts.hostname:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and is_loopback_host(parts.hostname)


def max_age_of(response: httpx.Response) -> int:
    """``max-age`` of a response, else 300 s (MCPA-VER-041), kept within [30 s, 24 h].

    The 30 s floor (also for ``no-store``/``no-cache``/``max-age=0``) stops a verifier
    from re-fetching metadata and keys on every request; unknown ``kid`` values still
    trigger the rate-limited refresh of MCPA-VER-033.
    """
    header = response.headers.get("cache-control", "").lower()
    if "no-store" in header or "no-cache" in header:
        return MIN_MAX_AGE
    match = _MAX_AGE_RE.search(header)
    if match is None:
        return DEFAULT_MAX_AGE
    return max(MIN_MAX_AGE, min(int(match.group(1)), MAX_COPY_AGE))


async def fetch(
    client: httpx.AsyncClient, url: str, *, accept: str
) -> tuple[bytes, httpx.Response]:
    """GET ``url`` without following redirects; the body is capped at 1 MiB."""
    if not allowed_fetch_url(url):
        raise FetchError("refusing to fetch a non-HTTPS, non-loopback URL")
    try:
        async with client.stream(
            "GET", url, headers={"Accept": accept}, follow_redirects=False
        ) as response:
            if response.status_code != 200:
                raise FetchError(f"HTTP {response.status_code} from {url}")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_BODY:
                    raise FetchError(f"response from {url} larger than {MAX_BODY} bytes")
                chunks.append(chunk)
            return b"".join(chunks), response
    except httpx.HTTPError as exc:
        raise FetchError(f"fetching {url}: {type(exc).__name__}") from exc


def _json_object(body: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise FetchError(f"{what} is not JSON") from exc
    if not isinstance(value, dict):
        raise FetchError(f"{what} is not a JSON object")
    return value


def _identities(keyset: KeySet) -> set[tuple[str | None, str, str]]:
    """``(kid, alg, RFC 7638 thumbprint)`` of every key: a key's identity beyond its kid."""
    return {(k.kid, k.alg, jwk_thumbprint(k.jwk)) for k in keyset.keys}


class IssuerKeys:
    """Issuer metadata and JWK Set, cached (see the module docstring)."""

    def __init__(
        self,
        settings: VerifierSettings,
        client: httpx.AsyncClient,
        *,
        kid_refresh_interval: float = KID_REFRESH_INTERVAL,
        on_keys_changed: Callable[[frozenset[str]], None] | None = None,
    ) -> None:
        self.configured = settings
        self.settings = settings
        self.client = client
        self.kid_refresh_interval = kid_refresh_interval
        self.on_keys_changed = on_keys_changed
        self.metadata: dict[str, Any] | None = None
        self.keyset: KeySet | None = None
        self.fetched_at = -math.inf
        self.fresh_until = -math.inf
        self.last_kid_refresh = -math.inf
        self.retry_at = -math.inf
        self.fetch_count = 0
        self._lock = asyncio.Lock()

    # -- synchronous KeyLookup -----------------------------------------------------

    def select(self, kid: object, alg: str) -> VerificationKey:
        if self.keyset is None:
            raise TemporarilyUnavailable(
                "issuer keys are unavailable", requirement=REQ_KEYS_UNAVAILABLE
            )
        return self.keyset.select(kid, alg)

    # -- async maintenance ---------------------------------------------------------

    async def ensure(self, now: float) -> None:
        """Make sure a usable copy is held at ``now`` (fetching if stale or missing)."""
        if self.keyset is not None and now < self.fresh_until:
            return
        async with self._lock:
            if self.keyset is not None and now < self.fresh_until:
                return
            if now < self.retry_at:  # a recent attempt failed: do not hammer the issuer
                if self.keyset is not None and now - self.fetched_at > MAX_COPY_AGE:
                    self.keyset = None  # MCPA-VER-040 holds between attempts too
                if self.keyset is None:
                    raise TemporarilyUnavailable(
                        "issuer keys are unavailable", requirement=REQ_KEYS_UNAVAILABLE
                    )
                return
            try:
                await self._refresh(now)
            except FetchError as exc:
                log.warning("issuer metadata/JWKS refresh failed: %s", exc)
                self.retry_at = now + RETRY_INTERVAL
                if self.keyset is None or now - self.fetched_at > MAX_COPY_AGE:
                    self.keyset = None
                    raise TemporarilyUnavailable(
                        "issuer keys are unavailable",
                        requirement=REQ_KEYS_UNAVAILABLE,
                        detail=str(exc),
                    ) from None

    async def refresh_for_unknown_kid(self, now: float) -> bool:
        """Re-fetch once for an unknown ``kid``; ``False`` when rate-limited or failed."""
        async with self._lock:
            if now - self.last_kid_refresh < self.kid_refresh_interval:
                return False
            self.last_kid_refresh = now
            try:
                await self._refresh(now)
            except FetchError as exc:
                log.warning("JWKS refresh for an unknown kid failed: %s", exc)
                return False
            return True

    async def _refresh(self, now: float) -> None:
        self.fetch_count += 1
        issuer = self.configured.issuer
        body, response = await fetch(
            self.client, authorization_server_metadata_url(issuer), accept="application/json"
        )
        metadata = _json_object(body, "issuer metadata")
        if metadata.get("issuer") != issuer:
            raise FetchError("issuer metadata 'issuer' differs from the configured issuer")
        jwks_uri = metadata.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise FetchError("issuer metadata has no jwks_uri")
        max_age = max_age_of(response)
        jwks_body, jwks_response = await fetch(
            self.client, jwks_uri, accept="application/jwk-set+json, application/json"
        )
        try:
            keyset = load_jwks(
                _json_object(jwks_body, "JWK Set"), allowed_algs=self.configured.allowed_algs
            )
        except JoseError as exc:
            raise FetchError(f"JWK Set unusable: {exc.code}") from exc
        max_age = min(max_age, max_age_of(jwks_response))
        old = self.keyset
        self.metadata = metadata
        self.keyset = keyset
        self.settings = self.configured.with_issuer_limits(metadata)
        self.fetched_at = now
        self.fresh_until = now + max_age
        if old is not None and self.on_keys_changed is not None:
            # MCPA-VER-046: a key is gone when its kid is, or when the kid now names other
            # key material; entries verified with it must not outlive it.
            gone = {kid for kid, _, _ in _identities(old) - _identities(keyset) if kid is not None}
            if gone:
                self.on_keys_changed(keyset.kids() - gone)


class StatusLists(StatusListCache):
    """Status lists fetched from the issuer and cached while usable."""

    def __init__(
        self,
        settings: VerifierSettings,
        client: httpx.AsyncClient,
        keys: IssuerKeys | Any,
        *,
        retry_interval: float = 2.0,
        max_lists: int = 64,
    ) -> None:
        super().__init__(settings, max_lists=max_lists)
        self.client = client
        self.keys = keys
        self.retry_interval = retry_interval
        self.fetch_count = 0
        self._failed_at: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def ensure(self, uri: str, now: float) -> None:
        """Hold a usable list for ``uri`` at ``now`` if one can be fetched."""
        if self.get(uri, now) is not None:
            return
        lock = self._locks.setdefault(uri, asyncio.Lock())
        async with lock:
            if self.get(uri, now) is not None:
                return
            if now - self._failed_at.get(uri, -math.inf) < self.retry_interval:
                return  # recent failure: fail closed without hammering the issuer
            try:
                self.put(await self._fetch(uri, now))
                self._failed_at.pop(uri, None)
            except (FetchError, StatusListError) as exc:
                log.warning("status list %s unusable: %s", uri, exc)
                if len(self._failed_at) > 1024:
                    self._failed_at.clear()
                self._failed_at[uri] = now

    async def _fetch(self, uri: str, now: float) -> StatusList:
        self.fetch_count += 1
        body, _ = await fetch(self.client, uri, accept="application/statuslist+jwt")
        try:
            token = body.decode("ascii").strip()
        except UnicodeDecodeError as exc:
            raise FetchError("status list token is not ASCII") from exc
        try:
            return parse_status_list(
                token, uri=uri, keys=self.keys, settings=self.settings, now=now
            )
        except StatusListError:
            # A list signed with a key we do not know yet: one rate-limited JWKS refresh.
            if isinstance(self.keys, IssuerKeys) and await self.keys.refresh_for_unknown_kid(now):
                return parse_status_list(
                    token, uri=uri, keys=self.keys, settings=self.settings, now=now
                )
            raise
