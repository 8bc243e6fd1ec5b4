"""Client side of DPoP (RFC 9449) for the MCP SDK's HTTP client.

The MCP Python SDK's streamable HTTP transport (``mcp.client.streamable_http``) sends every
MCP message through an ``httpx2.AsyncClient`` the caller may supply. ``DPoPAuth`` is an
``httpx2.Auth`` that puts ``Authorization: DPoP <token>`` and a fresh ``DPoP`` proof (signed
over that request's method and URL, with ``ath``) on each request, which is what an MCP-Auth
protected server requires (CONTRACT.md section 4, step 12).

``DPoPKey`` is the holder's key pair: an ephemeral ES256 key whose RFC 7638 thumbprint the
issuer writes into ``cnf.jkt`` when it issues or exchanges a token for the holder.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx2

from ..dpop import make_dpop_proof
from ..jose import PrivateKey, generate_private_key, jwk_thumbprint, public_jwk

__all__ = ["DPoPAuth", "DPoPKey", "htu_of"]


def htu_of(url: str) -> str:
    """The ``htu`` of a request URL: the URL without query and fragment (RFC 9449 section 4.2)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", "", ""))


@dataclass(frozen=True)
class DPoPKey:
    """A DPoP key pair held by one party (agent runtime or tool); ES256 unless told."""

    private_key: PrivateKey
    alg: str = "ES256"

    @classmethod
    def generate(cls, alg: str = "ES256") -> DPoPKey:
        """A fresh key pair (DPoP keys are the holder's own; the issuer never sees them)."""
        return cls(generate_private_key(alg), alg)

    @property
    def public_jwk(self) -> dict[str, str]:
        return public_jwk(self.private_key)

    def thumbprint(self) -> str:
        """RFC 7638 SHA-256 thumbprint of the public key (the token's ``cnf.jkt``)."""
        return jwk_thumbprint(self.public_jwk)

    def proof(self, method: str, url: str, *, access_token: str | None = None) -> str:
        """A DPoP proof for one request (``htm``, ``htu``, ``iat``, ``jti``, ``ath``)."""
        return make_dpop_proof(
            self.private_key,
            self.public_jwk,
            method.upper(),
            htu_of(url),
            access_token=access_token,
        )


class DPoPAuth(httpx2.Auth):
    """``httpx2.Auth`` sending a DPoP-bound access token with a fresh proof on every request.

    ``token`` is the access token, or a callable returning the current one (so a caller can
    renew a short-lived token without rebuilding the HTTP client). The last response's
    status and ``WWW-Authenticate`` challenge are kept in ``last_status`` and
    ``last_challenge``: the SDK's transport turns an HTTP 401 into a generic JSON-RPC error, and
    a caller that wants to know *why* it was refused reads them here.
    """

    def __init__(self, token: str | Callable[[], str], key: DPoPKey) -> None:
        self._token = token
        self.key = key
        self.last_status: int | None = None
        self.last_challenge: str | None = None

    def current_token(self) -> str:
        return self._token() if callable(self._token) else self._token

    def auth_flow(
        self, request: httpx2.Request
    ) -> Generator[httpx2.Request, httpx2.Response, None]:
        token = self.current_token()
        request.headers["Authorization"] = f"DPoP {token}"
        request.headers["DPoP"] = self.key.proof(
            request.method, str(request.url), access_token=token
        )
        response = yield request
        self.last_status = response.status_code
        self.last_challenge = response.headers.get("www-authenticate")
