"""The async ``Verifier``: providers (metadata, JWKS, status lists) and the token cache."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from mcp_auth.reference.errors import (
    InsufficientScope,
    InvalidDPoPProof,
    InvalidToken,
    OAuthError,
    TemporarilyUnavailable,
)
from mcp_auth.reference.jose import b64url_encode, generate_private_key, sign_compact
from mcp_auth.reference.verifier import Principal, Verifier
from mcp_auth.reference.verifier import signature as signature_step
from mcp_auth.reference.verifier.providers import (
    allowed_fetch_url,
    authorization_server_metadata_url,
)
from mcp_auth.reference.verifier.status_list import StatusListError, parse_status_list
from tests.reference.verifier.helpers import (
    NOW,
    RESOURCE,
    STATUS_URI,
    FakeIssuerState,
    MiniIssuer,
    fake_issuer_app,
)


class Harness:
    def __init__(self, **state_kw: Any) -> None:
        self.mini = MiniIssuer(keys=dict(MiniIssuer().keys))
        self.state = FakeIssuerState(self.mini, **state_kw)
        self.hosts: list[str] = []
        app = fake_issuer_app(self.state)
        inner = httpx.ASGITransport(app=app)
        hosts = self.hosts

        class Recording(httpx.AsyncBaseTransport):
            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                hosts.append(str(request.url))
                return await inner.handle_async_request(request)

        self.client = httpx.AsyncClient(transport=Recording())
        self.verifier = Verifier(
            self.mini.settings(), http_client=self.client, clock=lambda: self.state.clock[0]
        )

    @property
    def now(self) -> float:
        return self.state.clock[0]

    def advance(self, seconds: float) -> None:
        self.state.clock[0] += seconds

    async def call(
        self, token: str, *, required: Any = "files:read", proof: str | None = "auto", **kw: Any
    ) -> Principal:
        if proof == "auto":
            proof = self.mini.proof(token, iat=int(self.now), **kw)
        return await self.verifier.verify(
            token, proof, method="GET", url=RESOURCE, required_scopes=required
        )

    def token(self, **claims: Any) -> str:
        base = self.mini.claims(iat=int(self.now) - 5, exp=int(self.now) + 250)
        base.update(claims)
        return self.mini.token(base)


def run(test: Callable[[Harness], Awaitable[None]], **state_kw: Any) -> Harness:
    harness = Harness(**state_kw)

    async def main() -> None:
        try:
            await test(harness)
        finally:
            await harness.client.aclose()

    asyncio.run(main())
    return harness


async def expect(
    error: type[OAuthError], requirement: str, call: Awaitable[Principal]
) -> OAuthError:
    with pytest.raises(OAuthError) as info:
        await call
    assert isinstance(info.value, error), repr(info.value)
    assert info.value.requirement == requirement, repr(info.value)
    return info.value


def test_metadata_url_path_insertion() -> None:
    assert (
        authorization_server_metadata_url("https://a.example")
        == "https://a.example/.well-known/oauth-authorization-server"
    )
    assert (
        authorization_server_metadata_url("https://a.example/tenant/")
        == "https://a.example/.well-known/oauth-authorization-server/tenant"
    )


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://a.example/x", True),
        ("http://127.0.0.1:8400/x", True),
        ("http://localhost/x", True),
        ("http://[::1]:9/x", True),
        ("http://a.example/x", False),
        ("https://u:p@a.example/x", False),
        ("file:///etc/passwd", False),
        ("https://a.example:99999/", False),
    ],
)
def test_allowed_fetch_url(url: str, ok: bool) -> None:
    assert allowed_fetch_url(url) is ok


def test_full_flow_and_caching(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = signature_step.verify_signature

    def counting(*args: Any, **kw: Any) -> None:
        calls.append(1)
        real(*args, **kw)

    monkeypatch.setattr(signature_step, "verify_signature", counting)

    async def body(h: Harness) -> None:
        token = h.token()
        principal = await h.call(token)
        assert principal.client_id == "agent-1"
        assert (h.state.metadata_hits, h.state.jwks_hits, h.state.status_hits) == (1, 1, 1)
        assert len(calls) == 1
        # reuse: fresh proof, no new signature check, no new fetch
        h.advance(5)
        await h.call(token)
        assert len(calls) == 1
        assert (h.state.metadata_hits, h.state.jwks_hits, h.state.status_hits) == (1, 1, 1)
        # but DPoP replay, scope, time and status still run on a cached token
        proof = h.mini.proof(token, iat=int(h.now))
        await h.call(token, proof=proof)
        await expect(InvalidDPoPProof, "MCPA-VER-024", h.call(token, proof=proof))
        await expect(InsufficientScope, "MCPA-VER-027", h.call(token, required="admin"))
        await expect(InvalidDPoPProof, "MCPA-VER-018", h.call(token, proof=None))
        h.state.revoked.add(7)
        await h.call(token)  # status list still fresh: not yet visible
        h.advance(56)  # list iat + 60 passed
        await expect(InvalidToken, "MCPA-VER-028", h.call(token))
        assert h.state.status_hits == 2
        h.state.revoked.clear()
        h.advance(230)  # token exp + skew reached
        await expect(InvalidToken, "MCPA-VER-016", h.call(token))
        assert len(calls) == 2  # expired cache entry: verified again, then refused on time

    run(body)


def test_unknown_kid_refresh_is_rate_limited() -> None:
    async def body(h: Harness) -> None:
        await h.call(h.token())
        assert h.state.jwks_hits == 1
        bad = h.mini.token(h.mini.claims(iat=int(h.now), exp=int(h.now) + 100),
                           h.mini.header(kid="nope"))  # fmt: skip
        await expect(InvalidToken, "MCPA-VER-011", h.call(bad))
        assert h.state.jwks_hits == 2
        await expect(InvalidToken, "MCPA-VER-011", h.call(bad))
        assert h.state.jwks_hits == 2  # within 30 s: no refetch
        h.advance(31)
        await expect(InvalidToken, "MCPA-VER-011", h.call(bad))
        assert h.state.jwks_hits == 3

    run(body)


def test_key_rotation_picked_up_on_unknown_kid() -> None:
    async def body(h: Harness) -> None:
        await h.call(h.token())
        h.mini.keys["es-2"] = generate_private_key("ES256")
        claims = h.mini.claims(iat=int(h.now), exp=int(h.now) + 100)
        token = h.mini.token(claims, kid="es-2")
        principal = await h.call(token)
        assert principal.sub == "user-1"
        assert h.state.jwks_hits == 2

    run(body)


def test_removed_key_drops_cached_tokens() -> None:
    async def body(h: Harness) -> None:
        token = h.token()
        await h.call(token)
        assert len(h.verifier.token_cache) == 1
        h.mini.keys.pop("es-1")
        h.mini.keys["es-3"] = generate_private_key("ES256")
        h.advance(301)  # metadata/JWKS max-age 300 s
        # a cached entry would fail only at step 11; the dropped one fails at step 6
        await expect(InvalidToken, "MCPA-VER-011", h.call(token))
        assert len(h.verifier.token_cache) == 0

    run(body)


def test_replaced_key_under_same_kid_drops_cached_tokens() -> None:
    """MCPA-VER-046: a kid whose key material changed no longer vouches for cached tokens."""

    async def body(h: Harness) -> None:
        token = h.token()
        await h.call(token)
        assert len(h.verifier.token_cache) == 1
        h.mini.keys["es-1"] = generate_private_key("ES256")  # same kid, new key
        unknown = h.mini.token(h.mini.claims(iat=int(h.now), exp=int(h.now) + 100),
                               h.mini.header(kid="nope"))  # fmt: skip
        await expect(InvalidToken, "MCPA-VER-011", h.call(unknown))  # re-fetches the JWKS
        assert h.state.jwks_hits == 2
        # the token is still within its lifetime: a cached entry would be accepted, the
        # dropped one is verified again and fails at step 7
        await expect(InvalidToken, "MCPA-VER-012", h.call(token))
        assert len(h.verifier.token_cache) == 0

    run(body)


def test_metadata_issuer_mismatch_fails_closed() -> None:
    async def body(h: Harness) -> None:
        await expect(TemporarilyUnavailable, "MCPA-VER-042", h.call(h.token()))
        assert h.state.jwks_hits == 0

    run(body, metadata_issuer="https://evil.example")


def test_issuer_down_at_start_fails_closed() -> None:
    async def body(h: Harness) -> None:
        err = await expect(TemporarilyUnavailable, "MCPA-VER-042", h.call(h.token()))
        assert err.status == 503
        await expect(TemporarilyUnavailable, "MCPA-VER-042", h.call(h.token()))
        assert h.state.metadata_hits == 1  # no second attempt within the retry interval
        h.state.fail = False
        h.advance(6)
        await h.call(h.token())
        assert h.state.metadata_hits == 2

    run(body, fail=True)


def test_jwks_redirect_not_followed() -> None:
    async def body(h: Harness) -> None:
        await expect(TemporarilyUnavailable, "MCPA-VER-042", h.call(h.token()))
        assert not any("evil.example" in u for u in h.hosts)

    run(body, redirect_jwks=True)


def test_issuer_down_later_keys_kept_status_fails_closed() -> None:
    async def body(h: Harness) -> None:
        token = h.token()
        await h.call(token)
        h.state.fail = True
        h.advance(30)
        await h.call(token)  # keys and status list still fresh
        h.advance(31)  # list older than 60 s, cannot be refreshed
        err = await expect(TemporarilyUnavailable, "MCPA-VER-029", h.call(token))
        assert err.status == 503
        h.advance(300)  # metadata copy stale too but < 24 h: keys still usable
        await expect(TemporarilyUnavailable, "MCPA-VER-029", h.call(h.token()))
        h.state.fail = False
        h.advance(3)
        await h.call(h.token())

    run(body)


def test_status_ttl_honoured() -> None:
    async def body(h: Harness) -> None:
        token = h.token()
        await h.call(token)
        h.advance(11)
        await h.call(token)
        assert h.state.status_hits == 2

    run(body, status_ttl=10)


def test_stale_status_list_from_cache_not_used() -> None:
    async def body(h: Harness) -> None:
        h.state.status_iat = int(h.now) - 61  # e.g. served by a CDN: too old on arrival
        await expect(TemporarilyUnavailable, "MCPA-VER-029", h.call(h.token()))

    run(body)


def test_foreign_status_uri_never_fetched() -> None:
    async def body(h: Harness) -> None:
        for uri in (
            "https://issuer.example.evil.example/status/1",
            "https://issuer.example@evil.example/status/1",
            "https://evil.example/status/1",
            "https://issuer.example/status/../jwks",
        ):
            token = h.token(status={"mcpa_grant_list": {"idx": 1, "uri": uri}})
            await expect(InvalidToken, "MCPA-VER-028", h.call(token))
        assert all(u.startswith("https://issuer.example/") for u in h.hosts)
        assert not any("status" in u for u in h.hosts)

    run(body)


def test_issuer_limits_from_metadata() -> None:
    async def body(h: Harness) -> None:
        token = h.mini.token(h.mini.claims(4, iat=int(h.now), exp=int(h.now) + 100))
        await expect(InvalidToken, "MCPA-VER-026", h.call(token))
        assert h.verifier.settings.max_chain_depth == 3

    h = Harness()
    h.state.extra_metadata = {"mcpa_max_chain_depth": 3, "mcpa_max_token_lifetime": 9999}

    async def main() -> None:
        try:
            await body(h)
            assert h.verifier.settings.max_token_lifetime == 300  # never raised
        finally:
            await h.client.aclose()

    asyncio.run(main())


def test_verifier_with_injected_lookups_needs_no_client() -> None:
    from mcp_auth.reference.verifier import StaticStatus

    mini = MiniIssuer()

    async def main() -> None:
        async with Verifier(mini.settings(), keys=mini.keyset(), status=StaticStatus()) as v:
            token = mini.token()
            p = await v.verify(token, mini.proof(token), method="GET", url=RESOURCE, now=NOW)
            assert p.sub == "user-1"

    asyncio.run(main())


# ---------------------------------------------------------------------------
# status list token validation (MCPA-VER-043)

MINI = MiniIssuer()
SETTINGS = MINI.settings()


def _parse(token: str) -> Any:
    return parse_status_list(token, uri=STATUS_URI, keys=MINI.keyset(), settings=SETTINGS, now=NOW)


def test_status_list_valid_and_bits() -> None:
    lst = _parse(MINI.status_token({0, 7, 9, (1 << 17) - 1}))
    assert [lst.bit(i) for i in (0, 1, 7, 8, 9, (1 << 17) - 1)] == [1, 0, 1, 0, 1, 1]
    with pytest.raises(InvalidToken):
        lst.bit(1 << 17)


def _bomb() -> str:
    return b64url_encode(zlib.compress(bytes(2 << 20)))


@pytest.mark.parametrize(
    "make",
    [
        lambda: MINI.status_token(uri="https://issuer.example/status/2"),
        lambda: MINI.status_token(header={"typ": "mcpa+jwt", "kid": "es-1"}),
        lambda: MINI.status_token(header={"kid": "es-1"}),
        lambda: MINI.status_token(header={"typ": "statuslist+jwt", "kid": "zz"}),
        lambda: MINI.status_token(header={"typ": "statuslist+jwt", "kid": "es-1",
                                          "jku": "https://evil.example"}),
        lambda: MINI.status_token(iat=NOW + 31),
        lambda: MINI.status_token(iat="now"),
        lambda: MINI.status_token(exp=NOW - 31),
        lambda: MINI.status_token(ttl=-1),
        lambda: MINI.status_token(status_list={"bits": 2, "lst": "eJwDAAAAAAE"}),
        lambda: MINI.status_token(status_list={"bits": True, "lst": "eJwDAAAAAAE"}),
        lambda: MINI.status_token(status_list={"bits": 1, "lst": "!!"}),
        lambda: MINI.status_token(status_list={"bits": 1, "lst": b64url_encode(b"notzlib")}),
        lambda: MINI.status_token(status_list={"bits": 1, "lst": _bomb()}),
        lambda: MINI.status_token(status_list={"bits": 1,
                                               "lst": b64url_encode(zlib.compress(b"a") + b"x")}),
        lambda: sign_compact({"typ": "statuslist+jwt", "kid": "es-1"},
                             {"sub": STATUS_URI, "iat": NOW,
                              "status_list": {"bits": 1, "lst": "eJwDAAAAAAE"}},
                             generate_private_key("ES256"), "ES256"),
        lambda: "not a token",
    ],
)  # fmt: skip
def test_status_list_rejections(make: Callable[[], str]) -> None:
    with pytest.raises(StatusListError):
        _parse(make())


def test_status_list_freshness() -> None:
    lst = _parse(MINI.status_token(ttl=None))
    assert lst.usable(NOW + 60, 60, 30) and not lst.usable(NOW + 61, 60, 30)
    lst = _parse(MINI.status_token(ttl=20))
    assert lst.usable(NOW + 20, 60, 30) and not lst.usable(NOW + 21, 60, 30)


def test_jwks_copy_older_than_24h_not_used_during_retry_interval() -> None:
    """MCPA-VER-040: the 24 h bound also holds between two failed refresh attempts."""
    from mcp_auth.reference.verifier import StaticStatus

    async def body(h: Harness) -> None:
        h.verifier = Verifier(
            h.mini.settings(),
            http_client=h.client,
            status=StaticStatus(),
            clock=lambda: h.state.clock[0],
        )
        await h.call(h.token())
        h.state.fail = True
        h.advance(24 * 3600)  # exactly 24 h: refresh fails, the copy may still be used
        await h.call(h.token())
        h.advance(1)  # within the retry interval, but the copy is now over 24 h old
        await expect(TemporarilyUnavailable, "MCPA-VER-042", h.call(h.token()))

    run(body)
