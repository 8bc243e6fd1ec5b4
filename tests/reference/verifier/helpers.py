"""Shared test helpers: a miniature issuer (keys, tokens, proofs, status lists)."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mcp_auth.reference.dpop import ReplayCache, make_dpop_proof
from mcp_auth.reference.jose import (
    KeySet,
    PrivateKey,
    b64url_encode,
    generate_private_key,
    jwk_thumbprint,
    load_jwks,
    public_jwk,
    sign_compact,
)
from mcp_auth.reference.verifier import VerifierSettings
from mcp_auth.reference.verifier.status_list import encode_status_list

ISSUER = "https://issuer.example"
RESOURCE = "https://rs.example/data"
STATUS_URI = f"{ISSUER}/status/1"
NOW = 1_800_000_000
SCOPES = "files:read files:write"

_ISSUER_KEYS: dict[str, PrivateKey] = {
    "es-1": generate_private_key("ES256"),
    "ed-1": generate_private_key("Ed25519"),
}
_HOLDER_KEYS: dict[str, PrivateKey] = {
    "ES256": generate_private_key("ES256"),
    "Ed25519": generate_private_key("Ed25519"),
    "EdDSA": generate_private_key("Ed25519"),  # the deprecated alias (RFC 9864)
}


def seg(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return b64url_encode(raw)


def chain_act(depth: int, client_id: str = "agent-1") -> dict[str, Any]:
    """A well-formed ``act`` of ``depth`` hops (>= 1, one per holder): the agent with its
    model, then ``depth - 1`` tools."""
    act: dict[str, Any] = {"actor_type": "agent", "sub": "agent-1", "mcpa_model": "model-x"}
    for i in range(depth - 1):
        act = {"actor_type": "tool", "sub": f"tool-{i + 1}", "act": act}
    return act


def holder_of(depth: int) -> str:
    return "agent-1" if depth == 1 else f"tool-{depth - 1}"


@dataclass
class MiniIssuer:
    """Signs delegation tokens and DPoP proofs the way a conformant issuer/client would."""

    issuer: str = ISSUER
    resource: str = RESOURCE
    kid: str = "es-1"
    holder_alg: str = "ES256"
    keys: dict[str, PrivateKey] = field(default_factory=lambda: dict(_ISSUER_KEYS))

    @property
    def holder_key(self) -> PrivateKey:
        return _HOLDER_KEYS[self.holder_alg]

    @property
    def holder_jwk(self) -> dict[str, str]:
        return public_jwk(self.holder_key)

    def jwks(self) -> dict[str, Any]:
        return {
            "keys": [
                public_jwk(k, kid, "ES256" if kid.startswith("es") else "Ed25519")
                for kid, k in self.keys.items()
            ]
        }

    def keyset(self) -> KeySet:
        return load_jwks(self.jwks())

    def settings(self, **kw: Any) -> VerifierSettings:
        args: dict[str, Any] = {"issuer": self.issuer, "resource": self.resource}
        args.update(kw)
        return VerifierSettings(**args)

    def claims(self, depth: int = 1, **overrides: Any) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": "user-1",
            "aud": self.resource,
            "client_id": holder_of(depth),
            "iat": NOW - 10,
            "exp": NOW + 200,
            "jti": "tok-" + b64url_encode(depth.to_bytes(2, "big")),
            "scope": SCOPES,
            "grant_id": "grant-1",
            "cnf": {"jkt": jwk_thumbprint(self.holder_jwk)},
            "status": {"mcpa_grant_list": {"idx": 7, "uri": f"{self.issuer}/status/1"}},
            "act": chain_act(depth),
        }
        claims.update(overrides)
        return claims

    def header(self, **overrides: Any) -> dict[str, Any]:
        header: dict[str, Any] = {"typ": "mcpa+jwt", "kid": self.kid}
        header.update(overrides)
        return header

    def token(
        self,
        claims: Mapping[str, Any] | None = None,
        header: Mapping[str, Any] | None = None,
        *,
        kid: str | None = None,
    ) -> str:
        kid = kid or self.kid
        key = self.keys[kid]
        alg = "ES256" if kid.startswith("es") else "Ed25519"
        hdr = dict(header) if header is not None else self.header(kid=kid)
        return sign_compact(hdr, dict(claims or self.claims()), key, alg)

    def proof(
        self,
        token: str | None,
        *,
        method: str = "GET",
        url: str = RESOURCE,
        iat: int = NOW,
        jti: str | None = None,
        key: PrivateKey | None = None,
    ) -> str:
        key = key or self.holder_key
        return make_dpop_proof(
            key, public_jwk(key), method, url, access_token=token, iat=iat, jti=jti
        )

    def status_token(
        self,
        revoked: set[int] | frozenset[int] = frozenset(),
        *,
        uri: str | None = None,
        iat: Any = NOW,
        ttl: int | None = 60,
        header: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        body: dict[str, Any] = {
            "sub": uri or f"{self.issuer}/status/1",
            "iat": iat,
            "exp": iat + 600 if isinstance(iat, int) else NOW + 600,
            "status_list": {"bits": 1, "lst": encode_status_list(revoked)},
        }
        if ttl is not None:
            body["ttl"] = ttl
        body.update(claims)
        hdr = header or {"typ": "statuslist+jwt", "kid": self.kid}
        return sign_compact(hdr, body, self.keys[self.kid], "ES256")


def deep(value: Any) -> Any:
    return copy.deepcopy(value)


@dataclass
class FakeIssuerState:
    mini: MiniIssuer
    metadata_issuer: str | None = None
    revoked: set[int] = field(default_factory=set)
    status_iat: int | None = None
    status_ttl: int | None = 60
    fail: bool = False
    redirect_jwks: bool = False
    metadata_hits: int = 0
    jwks_hits: int = 0
    status_hits: int = 0
    other_hits: list[str] = field(default_factory=list)
    clock: list[float] = field(default_factory=lambda: [float(NOW)])
    extra_metadata: dict[str, Any] = field(default_factory=dict)


def fake_issuer_app(state: FakeIssuerState) -> Starlette:
    """An issuer's discovery, JWKS and status endpoints (for provider tests)."""

    async def metadata(request: Request) -> Response:
        state.metadata_hits += 1
        if state.fail:
            return Response(status_code=500)
        base = str(request.base_url).rstrip("/")
        doc = {
            "issuer": state.metadata_issuer or state.mini.issuer,
            "jwks_uri": f"{base}/jwks",
            "mcpa_max_chain_depth": 5,
            "mcpa_max_token_lifetime": 300,
            "mcpa_status_list_max_age": 60,
            **state.extra_metadata,
        }
        return JSONResponse(doc, headers={"Cache-Control": "max-age=300"})

    async def jwks(request: Request) -> Response:
        del request
        state.jwks_hits += 1
        if state.fail:
            return Response(status_code=503)
        if state.redirect_jwks:
            return Response(status_code=302, headers={"Location": "https://evil.example/jwks"})
        return JSONResponse(state.mini.jwks())

    async def status(request: Request) -> Response:
        del request
        state.status_hits += 1
        if state.fail:
            return Response(status_code=503)
        iat = state.status_iat if state.status_iat is not None else int(state.clock[0])
        token = state.mini.status_token(state.revoked, iat=iat, ttl=state.status_ttl)
        return Response(token, media_type="application/statuslist+jwt")

    async def other(request: Request) -> Response:
        state.other_hits.append(request.url.path)
        return Response(status_code=404)

    return Starlette(
        routes=[
            Route("/.well-known/oauth-authorization-server", metadata),
            Route("/jwks", jwks),
            Route("/status/1", status),
            Route("/{path:path}", other),
        ]
    )


__all__ = [
    "ISSUER",
    "NOW",
    "RESOURCE",
    "SCOPES",
    "STATUS_URI",
    "FakeIssuerState",
    "MiniIssuer",
    "ReplayCache",
    "chain_act",
    "deep",
    "fake_issuer_app",
    "holder_of",
    "seg",
]
