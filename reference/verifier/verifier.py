"""``Verifier``: the algorithm wired to key/status providers and the verified-token cache.

Usage (also what the MCP integration and the middleware use)::

    settings = VerifierSettings(issuer="https://issuer.example",
                                resource="https://mcp.example/mcp")
    verifier = Verifier(settings)                 # fetches metadata, JWKS, status lists
    principal = await verifier.verify(token, proof, method="POST",
                                      url="https://mcp.example/mcp",
                                      required_scopes={"files:read"})
    await verifier.aclose()

``keys`` and ``status`` may be injected (any ``KeyLookup`` / ``StatusLookup``, e.g.
``jose.KeySet`` and ``status_list.StaticStatus``); then nothing is fetched for them.
Failures raise the typed errors of ``mcp_auth.reference.errors``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection
from hashlib import sha256

import httpx

from mcp_auth.reference.dpop import ReplayCache
from mcp_auth.reference.jose import b64url_encode
from mcp_auth.reference.verifier.cache import CachedToken, VerifiedTokenCache
from mcp_auth.reference.verifier.context import KeyLookup, StatusLookup, VerificationContext
from mcp_auth.reference.verifier.core import CHAIN_STEP, STATUS_STEP, STEPS, principal_from
from mcp_auth.reference.verifier.key import UnknownKid
from mcp_auth.reference.verifier.principal import Principal
from mcp_auth.reference.verifier.providers import IssuerKeys, StatusLists
from mcp_auth.reference.verifier.scope import token_scopes
from mcp_auth.reference.verifier.settings import VerifierSettings, scope_set
from mcp_auth.reference.verifier.status import status_reference
from mcp_auth.reference.verifier.token_size import check_token_size

_STEPS_ON_MISS = STEPS[1:]  # step 2 runs before the cache lookup
_STEPS_ON_HIT = tuple(step for step in STEPS[1:] if not step.cacheable)
_CHECKS_ON_HIT = tuple(step.check for step in _STEPS_ON_HIT)
assert _STEPS_ON_HIT[-1] is STATUS_STEP


class Verifier:
    """Verifies requests for one resource against one issuer.

    Parameters: ``settings``; ``http_client`` (an ``httpx.AsyncClient``, created and
    owned when omitted); ``keys`` / ``status`` to inject lookups instead of fetching;
    ``replay_cache`` (shared across processes serving the same resource, MCPA-VER-038,
    is the deployer's job — pass one); ``token_cache_size`` (0 disables the
    verified-token cache); ``clock`` (seconds since the epoch).
    """

    def __init__(
        self,
        settings: VerifierSettings,
        *,
        http_client: httpx.AsyncClient | None = None,
        keys: KeyLookup | None = None,
        status: StatusLookup | None = None,
        replay_cache: ReplayCache | None = None,
        token_cache_size: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._configured = settings
        self._own_client = http_client is None and (keys is None or status is None)
        self._client = (
            http_client
            if http_client is not None
            else (httpx.AsyncClient(timeout=5.0) if self._own_client else None)
        )
        self.token_cache = VerifiedTokenCache(token_cache_size)
        self.replay_cache = replay_cache if replay_cache is not None else ReplayCache()
        self.clock = clock
        self._scope_strings: dict[str, frozenset[str]] = {}
        self.issuer_keys: IssuerKeys | None = None
        self.status_lists: StatusLists | None = None
        if keys is None:
            assert self._client is not None
            self.issuer_keys = IssuerKeys(
                settings, self._client, on_keys_changed=self.token_cache.retain_kids
            )
            self._keys: KeyLookup = self.issuer_keys
        else:
            self._keys = keys
        if status is None:
            assert self._client is not None
            self.status_lists = StatusLists(settings, self._client, self._keys)
            self._status: StatusLookup = self.status_lists
        else:
            self._status = status

    @property
    def settings(self) -> VerifierSettings:
        """The effective settings (limits lowered to the issuer metadata's values)."""
        if self.issuer_keys is not None:
            return self.issuer_keys.settings
        return self._configured

    async def aclose(self) -> None:
        if self._own_client and self._client is not None:
            await self._client.aclose()

    async def __aenter__(self) -> Verifier:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _required(
        self, required_scopes: Collection[str] | str | None, settings: VerifierSettings
    ) -> frozenset[str]:
        if required_scopes is None:
            return settings.required_scopes
        if isinstance(required_scopes, frozenset):
            return required_scopes
        if isinstance(required_scopes, str):
            parsed = self._scope_strings.get(required_scopes)
            if parsed is None:
                parsed = scope_set(required_scopes)
                if len(self._scope_strings) < 256:
                    self._scope_strings[required_scopes] = parsed
            return parsed
        return frozenset(required_scopes)

    async def verify(
        self,
        token: str,
        proof: str | None,
        *,
        method: str,
        url: str,
        required_scopes: Collection[str] | str | None = None,
        now: float | None = None,
    ) -> Principal:
        """Steps 2–15 for one request; returns the principal or raises a typed error."""
        # The spec's `now` is integer seconds since the epoch (section 5.1).
        current = math.floor(self.clock() if now is None else now)
        issuer_keys = self.issuer_keys
        if issuer_keys is not None and (
            issuer_keys.keyset is None or current >= issuer_keys.fresh_until
        ):
            await issuer_keys.ensure(current)
        settings = self._configured if issuer_keys is None else issuer_keys.settings
        status_lists = self.status_lists
        if status_lists is not None:
            status_lists.settings = settings
        required = (
            self._scope_strings.get(required_scopes) if type(required_scopes) is str else None
        )
        if required is None:
            required = self._required(required_scopes, settings)
        ctx = VerificationContext(  # positional: measurably cheaper on the hot path
            token,
            proof,
            method,
            url,
            settings,
            self._keys,
            self._status,
            current,
            self.replay_cache,
            required,
        )
        check_token_size(ctx)  # step 2 runs before the token is hashed or looked up
        digest = sha256(token.encode("utf-8", "surrogatepass")).digest()
        cached = self.token_cache.get(digest, current)
        if cached is not None:
            # Steps 9-12, 14 and 15 on what steps 3-8 and 13 established when the token
            # was first seen (MCPA-VER-031); the same functions as below, without the
            # bookkeeping a first sight needs.
            ctx.expected_ath = cached.ath
            ctx.header = cached.header
            ctx.claims = cached.claims
            ctx.key = cached.key
            ctx.chain = cached.chain
            ctx.scopes = cached.scopes
            if status_lists is None:
                for check in _CHECKS_ON_HIT:
                    check(ctx)
            else:
                for check in _CHECKS_ON_HIT[:-1]:
                    check(ctx)
                uri, _ = status_reference(ctx)  # refuses foreign URIs before any fetch
                await status_lists.ensure(uri, current)
                _CHECKS_ON_HIT[-1](ctx)
            return cached.principal
        ctx.expected_ath = b64url_encode(digest)  # the same hash is the proof's ath
        principal: Principal | None = None
        for step in _STEPS_ON_MISS:
            if step is STATUS_STEP and status_lists is not None:
                uri, _ = status_reference(ctx)  # refuses foreign URIs before any fetch
                await status_lists.ensure(uri, current)
            try:
                step.check(ctx)
            except UnknownKid:
                if issuer_keys is None or not await issuer_keys.refresh_for_unknown_kid(current):
                    raise
                step.check(ctx)
            if step is CHAIN_STEP:
                # Everything the principal holds is now established and token-intrinsic.
                ctx.scopes = token_scopes(ctx.claims["scope"])
                principal = principal_from(ctx)
                self.token_cache.put(
                    digest,
                    CachedToken(
                        ctx.header,
                        ctx.claims,
                        ctx.key,
                        ctx.chain,
                        ctx.scopes,
                        principal,
                        ctx.expected_ath,
                        ctx.claims["exp"] + settings.skew,
                    ),
                    current,
                )
        assert principal is not None
        return principal
