"""A small client for the issuer: client assertions, DPoP token requests, exchange.

Used by ``mcp-auth demo chain``, by the tests, and by the agent and tool sides of the
MCP integration. ``IssuerClient`` is synchronous (httpx.Client), ``AsyncIssuerClient``
asynchronous (httpx.AsyncClient); both build the same requests::

    agent = IssuerClient("http://127.0.0.1:8400", "demo-agent", agent_private_jwk)
    tok = agent.issue(grant_id, resource="http://127.0.0.1:8401/mcp", model="demo-model")
    tool = IssuerClient("http://127.0.0.1:8400", "demo-tool-1", tool_private_jwk)
    tok2 = tool.exchange(tok.access_token, resource="http://127.0.0.1:8402")

Each client holds a DPoP key (generated unless given): ``tok.access_token`` is bound to
it, and ``client.dpop_proof(method, url, access_token=...)`` makes proofs to present it.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ..dpop import make_dpop_proof
from ..jose import (
    PrivateKey,
    alg_for_key,
    generate_private_key,
    jwk_thumbprint,
    private_jwk,
    private_key_from_jwk,
    public_jwk,
    sign_compact,
)
from .metadata import (
    ACCESS_TOKEN_TYPE,
    JWT_BEARER_ASSERTION,
    MCPA_GRANT_TYPE,
    TOKEN_EXCHANGE_GRANT_TYPE,
)


class IssuerError(Exception):
    """The issuer answered with an error (``status``, ``error``, ``description``), and for
    a refused exchange MCP-Auth's reason ``mcpa_error`` (spec Table 4-4)."""

    def __init__(
        self, status: int, error: str, description: str | None, mcpa_error: str | None = None
    ) -> None:
        reason = f" ({mcpa_error})" if mcpa_error else ""
        super().__init__(f"{status} {error}{reason}: {description or ''}".strip())
        self.status = status
        self.error = error
        self.description = description
        self.mcpa_error = mcpa_error


@dataclass(frozen=True)
class TokenResponse:
    access_token: str
    token_type: str
    expires_in: int
    scope: str
    issued_token_type: str
    grant_id: str
    raw: dict[str, Any] = field(repr=False)


def load_private_jwk(path: Path | str) -> dict[str, Any]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "d" not in data:
        raise ValueError(f"{path} does not hold a private JWK")
    return data


def make_client_assertion(
    client_id: str,
    key: PrivateKey | dict[str, Any],
    audience: str,
    *,
    lifetime: int = 60,
    now: int | None = None,
    jti: str | None = None,
    kid: str | None = None,
) -> str:
    """An RFC 7523 client assertion (``iss`` = ``sub`` = client_id) for ``audience``."""
    if isinstance(key, dict):
        kid = kid or key.get("kid")
        private = private_key_from_jwk(key)
    else:
        private = key
    moment = int(time.time()) if now is None else now
    header: dict[str, Any] = {"typ": "JWT"}
    if kid:
        header["kid"] = kid
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": moment,
        "exp": moment + lifetime,
        "jti": jti or secrets.token_urlsafe(24),
    }
    alg = alg_for_key(private)
    return sign_compact(header, claims, private, alg)


class _Base:
    def __init__(
        self,
        issuer_url: str,
        client_id: str,
        private_jwk: dict[str, Any],
        *,
        dpop_key: PrivateKey | None = None,
    ) -> None:
        self.issuer_url = issuer_url.rstrip("/")
        self.client_id = client_id
        self.private_jwk = private_jwk
        self.dpop_key: PrivateKey = dpop_key or generate_private_key("ES256")
        self.dpop_jwk = public_jwk(self.dpop_key)
        self.jkt = jwk_thumbprint(self.dpop_jwk)

    def url(self, path: str) -> str:
        return self.issuer_url + path

    def assertion(self, audience: str | None = None) -> str:
        return make_client_assertion(self.client_id, self.private_jwk, audience or self.issuer_url)

    def dpop_proof(self, method: str, url: str, *, access_token: str | None = None) -> str:
        return make_dpop_proof(self.dpop_key, self.dpop_jwk, method, url, access_token=access_token)

    def auth_form(self) -> dict[str, str]:
        return {"client_assertion_type": JWT_BEARER_ASSERTION, "client_assertion": self.assertion()}

    def issue_form(
        self, grant_id: str, resource: str, model: str, scope: str | None = None
    ) -> dict[str, str]:
        form = {
            "grant_type": MCPA_GRANT_TYPE,
            "grant_id": grant_id,
            "resource": resource,
            "actor_model": model,
            **self.auth_form(),
        }
        if scope is not None:
            form["scope"] = scope
        return form

    def exchange_form(
        self, subject_token: str, resource: str, scope: str | None = None
    ) -> dict[str, str]:
        form = {
            "grant_type": TOKEN_EXCHANGE_GRANT_TYPE,
            "subject_token": subject_token,
            "subject_token_type": ACCESS_TOKEN_TYPE,
            "resource": resource,
            **self.auth_form(),
        }
        if scope is not None:
            form["scope"] = scope
        return form

    def token_headers(self) -> dict[str, str]:
        return {"DPoP": self.dpop_proof("POST", self.url("/token"))}

    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.assertion()}"}

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        if response.status_code >= 400:
            err = body if isinstance(body, dict) else {}
            mcpa_error = err.get("mcpa_error")
            raise IssuerError(
                response.status_code,
                str(err.get("error", "unknown")),
                err.get("error_description"),
                mcpa_error if isinstance(mcpa_error, str) else None,
            )
        return body

    @classmethod
    def _token(cls, response: httpx.Response) -> TokenResponse:
        body = cls._json(response)
        return TokenResponse(
            body["access_token"],
            body["token_type"],
            body["expires_in"],
            body["scope"],
            body["issued_token_type"],
            body["grant_id"],
            body,
        )


class IssuerClient(_Base):
    """Synchronous client (``httpx.Client``)."""

    def __init__(
        self,
        issuer_url: str,
        client_id: str,
        private_jwk: dict[str, Any],
        *,
        dpop_key: PrivateKey | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        super().__init__(issuer_url, client_id, private_jwk, dpop_key=dpop_key)
        self.http = http or httpx.Client(timeout=10.0)

    def issue(
        self, grant_id: str, resource: str, model: str, scope: str | None = None
    ) -> TokenResponse:
        return self._token(
            self.http.post(
                self.url("/token"),
                headers=self.token_headers(),
                data=self.issue_form(grant_id, resource, model, scope),
            )
        )

    def exchange(
        self, subject_token: str, resource: str, scope: str | None = None
    ) -> TokenResponse:
        return self._token(
            self.http.post(
                self.url("/token"),
                headers=self.token_headers(),
                data=self.exchange_form(subject_token, resource, scope),
            )
        )

    def introspect(self, token: str) -> dict[str, Any]:
        form = {"token": token, **self.auth_form()}
        result: dict[str, Any] = self._json(self.http.post(self.url("/introspect"), data=form))
        return result

    def revoke(self, token: str) -> None:
        self._json(self.http.post(self.url("/revoke"), data={"token": token, **self.auth_form()}))

    def create_grant(self, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            self.http.post(self.url("/grants"), json=body, headers=self.bearer())
        )
        return result

    def get_grant(self, grant_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            self.http.get(self.url(f"/grants/{grant_id}"), headers=self.bearer())
        )
        return result


class AsyncIssuerClient(_Base):
    """Asynchronous client (``httpx.AsyncClient``, e.g. over an ASGI transport in tests)."""

    def __init__(
        self,
        issuer_url: str,
        client_id: str,
        private_jwk: dict[str, Any],
        *,
        http: httpx.AsyncClient,
        dpop_key: PrivateKey | None = None,
    ) -> None:
        super().__init__(issuer_url, client_id, private_jwk, dpop_key=dpop_key)
        self.http = http

    async def issue(
        self, grant_id: str, resource: str, model: str, scope: str | None = None
    ) -> TokenResponse:
        return self._token(
            await self.http.post(
                self.url("/token"),
                headers=self.token_headers(),
                data=self.issue_form(grant_id, resource, model, scope),
            )
        )

    async def exchange(
        self, subject_token: str, resource: str, scope: str | None = None
    ) -> TokenResponse:
        return self._token(
            await self.http.post(
                self.url("/token"),
                headers=self.token_headers(),
                data=self.exchange_form(subject_token, resource, scope),
            )
        )

    async def introspect(self, token: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            await self.http.post(self.url("/introspect"), data={"token": token, **self.auth_form()})
        )
        return result

    async def revoke(self, token: str) -> None:
        self._json(
            await self.http.post(self.url("/revoke"), data={"token": token, **self.auth_form()})
        )

    async def create_grant(self, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            await self.http.post(self.url("/grants"), json=body, headers=self.bearer())
        )
        return result


def new_client_key(client_id: str, alg: str = "ES256") -> tuple[dict[str, Any], dict[str, Any]]:
    """A fresh key pair for a client: (private JWK with kid, public JWK set)."""
    key = generate_private_key(alg)
    kid = f"{client_id}-{jwk_thumbprint(public_jwk(key))[:16]}"
    return private_jwk(key, kid), {"keys": [public_jwk(key, kid, alg)]}
