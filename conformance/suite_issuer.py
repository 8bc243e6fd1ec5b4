"""The suite's own issuer, used to test a Verifier: metadata, JWKS, status lists, a canary.

It serves on two loopback sockets from one thread:

* the issuer origin (``http://127.0.0.1:<issuer_port>``): RFC 8414 metadata, the JWKS with
  an ES256 and an Ed25519 key, and status lists (``/status/<list>``);
* the canary origin (``http://127.0.0.1:<canary_port>``): where the ``jku``/``x5u`` headers
  and out-of-issuer status URIs of attack tokens point. It answers with an attacker's JWKS
  so that a verifier that follows the header would also accept the token; any request that
  reaches it is recorded and fails MCPA-VER-009 / MCPA-SEC-001 / MCPA-SEC-002.

Revocation without waiting: the status list is fetched by the verifier and may be cached up
to ``mcpa_status_list_max_age``. The suite therefore never flips a bit a verifier may have
cached. Bits for the revoked-grant tests are set from the start, at indices no valid token
ever uses, so the first fetch already shows them revoked; valid tokens use indices whose
bits are never set. The main list has a random ``list_id`` per run (never ``1``), so a
verifier must take the URI from the token. A second list URI (``/status/unavailable``)
answers 503 to test failing closed, a third (``/status/stale``) serves a correctly signed
list token issued an hour ago that must not be used (both MCPA-VER-029): no verifier can
have cached them before. Two more (``/status/oversize``, ``/status/inflates-too-far``) serve
signed, fresh lists with every bit 0 that are unusable by size alone (MCPA-VER-043): a body
over 1 MiB, and an ``lst`` that inflates beyond 1 MiB.
"""

from __future__ import annotations

import random
import socket
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mcp_auth import SPEC_VERSION
from mcp_auth.conformance import jose

STATUS_LIST_BITS = 2**17
VALID_INDEX_RANGE = (0, 99_999)
REVOKED_INDEX_BASE = 100_000
REVOKED_INDEX_COUNT = 64
# The list of every valid and revoked-grant token: a fresh random id per run (MCPA-REV-016),
# never "1", so a verifier that builds the URI instead of reading it from the token fails.
UNAVAILABLE_LIST = "unavailable"
REDIRECT_LIST = "redirect"  # answers 302 to the canary
STALE_LIST = "stale"  # a correctly signed list token issued an hour ago
# Not usable (MCPA-VER-043), otherwise correct, signed and fresh, every bit 0:
OVERSIZE_LIST = "oversize"  # a response body over 1 MiB
INFLATES_LIST = "inflates-too-far"  # an lst whose zlib output exceeds 1 MiB
MAX_LIST_BYTES = 1 << 20


def bind(port: int = 0) -> socket.socket:
    """A listening TCP socket on 127.0.0.1 (port 0 = a free one)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: no 40 ms delayed-ACK stalls on keep-alive.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def encode_status_list(revoked: set[int], size: int = STATUS_LIST_BITS) -> str:
    """``lst``: base64url(zlib(bytes)), bit i = byte i // 8, bit i % 8, LSB first."""
    data = bytearray(size // 8)
    for idx in revoked:
        data[idx // 8] |= 1 << (idx % 8)
    return jose.b64u(zlib.compress(bytes(data), 9))


def decode_status_list(lst: str) -> bytes:
    return zlib.decompress(jose.b64u_decode(lst))


def status_bit(data: bytes, idx: int) -> int:
    return (data[idx // 8] >> (idx % 8)) & 1


@dataclass
class Hit:
    origin: str
    method: str
    path: str
    time: float


@dataclass
class SuiteIssuer:
    """State and ASGI app of the suite's issuer. Start with :meth:`start`."""

    issuer_port: int = 0
    canary_port: int = 0
    status_ttl: int = 30
    # Throwaway keys by default; the runner passes stored ones (suite_keys) when it tests a
    # server it did not start, so that the server's cached JWK Set stays valid between runs.
    es256: jose.Key = field(
        default_factory=lambda: jose.Key.generate("ES256", "suite-es256-" + jose.random_id(6))
    )
    eddsa: jose.Key = field(
        default_factory=lambda: jose.Key.generate("Ed25519", "suite-ed25519-" + jose.random_id(6))
    )
    attacker: jose.Key = field(default_factory=lambda: jose.Key.generate("ES256", "attacker-1"))
    revoked: set[int] = field(default_factory=set)
    main_list: str = field(default_factory=lambda: jose.random_id(16))
    hits: list[Hit] = field(default_factory=list)
    requests: list[Hit] = field(default_factory=list)

    def __post_init__(self) -> None:
        rng = random.Random()
        self.revoked_pool = [REVOKED_INDEX_BASE + i for i in range(REVOKED_INDEX_COUNT)]
        rng.shuffle(self.revoked_pool)
        self.revoked = set(self.revoked_pool)
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sockets: list[socket.socket] = []

    # -- addresses ----------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.issuer_port}"

    @property
    def canary_url(self) -> str:
        return f"http://127.0.0.1:{self.canary_port}"

    def status_uri(self, list_id: str | None = None) -> str:
        return f"{self.url}/status/{list_id or self.main_list}"

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.es256.public_jwk(), self.eddsa.public_jwk()]}

    def signing_key(self, alg: str) -> jose.Key:
        return self.es256 if alg == "ES256" else self.eddsa

    def status(self, uri: str, idx: int) -> bool | None:
        """The truth the oracle uses: revoked, valid, or None for an unavailable list."""
        if uri == self.status_uri():
            return idx in self.revoked
        return None

    def jwks_served(self) -> list[float]:
        """When the issuer origin served its JWK Set during this run."""
        with self._lock:
            return [h.time for h in self.requests if h.origin == "issuer" and h.path == "/jwks"]

    def canary_hits(self) -> list[Hit]:
        with self._lock:
            return list(self.hits)

    def metadata(self) -> dict[str, Any]:
        u = self.url
        return {
            "issuer": u,
            "token_endpoint": f"{u}/token",
            "jwks_uri": f"{u}/jwks",
            "revocation_endpoint": f"{u}/revoke",
            "introspection_endpoint": f"{u}/introspect",
            "grant_types_supported": [
                "urn:ietf:params:oauth:grant-type:mcpa-grant",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ],
            "response_types_supported": [],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": list(jose.EMITTED_ALGS),
            "revocation_endpoint_auth_methods_supported": ["private_key_jwt"],
            "introspection_endpoint_auth_methods_supported": ["private_key_jwt"],
            "dpop_signing_alg_values_supported": list(jose.EMITTED_ALGS),
            "mcpa_version": SPEC_VERSION,
            "mcpa_grants_endpoint": f"{u}/grants",
            "mcpa_consent_endpoint": f"{u}/consent",
            "mcpa_max_chain_depth": 5,
            "mcpa_max_token_lifetime": 300,
            "mcpa_status_list_max_age": 60,
            "mcpa_token_signing_alg_values_supported": list(jose.EMITTED_ALGS),
            "mcpa_actor_types_supported": ["agent", "tool"],
        }

    def status_list_token(self, list_id: str) -> str:
        now = int(time.time())
        if list_id == STALE_LIST:
            now -= 3600  # older than any mcpa_status_list_max_age: must not be used
        if list_id == OVERSIZE_LIST:
            # zlib "stored" blocks: 720 000 zero bytes inflate to well under 1 MiB, but
            # base64url twice (lst, then the payload) makes the body about 1.28 MB.
            lst = jose.b64u(zlib.compress(bytes(720_000), 0))
        elif list_id == INFLATES_LIST:
            lst = jose.b64u(zlib.compress(bytes(MAX_LIST_BYTES + 4096), 9))  # about 1 KiB
        else:
            lst = encode_status_list(self.revoked)
        claims = {
            "sub": self.status_uri(list_id),
            "iat": now,
            "exp": now + 60,
            "ttl": self.status_ttl,
            "status_list": {"bits": 1, "lst": lst},
        }
        header = {"alg": "ES256", "typ": "statuslist+jwt", "kid": self.es256.kid}
        return jose.sign_compact(header, claims, self.es256)

    # -- the ASGI app -------------------------------------------------------------------
    def app(self) -> Starlette:
        async def dispatch(request: Request) -> Response:
            port = request.scope.get("server", ("", 0))[1]
            hit = Hit(
                "canary" if port == self.canary_port else "issuer",
                request.method,
                request.url.path,
                time.time(),
            )
            with self._lock:
                self.requests.append(hit)
                if hit.origin == "canary":
                    self.hits.append(hit)
            if hit.origin == "canary":
                # Tempting answer: the attacker's keys, so a vulnerable verifier accepts.
                return JSONResponse({"keys": [self.attacker.public_jwk()]})
            path = request.url.path
            cache = {"Cache-Control": "max-age=60"}
            if path == "/.well-known/oauth-authorization-server":
                return JSONResponse(self.metadata(), headers=cache)
            if path == "/jwks":
                return JSONResponse(self.jwks(), headers=cache)
            if path.startswith("/status/"):
                list_id = path[len("/status/") :]
                if list_id == REDIRECT_LIST:  # following it reaches the canary
                    return Response(
                        status_code=302, headers={"Location": f"{self.canary_url}/status/1"}
                    )
                if list_id not in (self.main_list, STALE_LIST, OVERSIZE_LIST, INFLATES_LIST):
                    return JSONResponse({"error": "temporarily_unavailable"}, status_code=503)
                return Response(
                    self.status_list_token(list_id),
                    media_type="application/statuslist+jwt",
                    headers={"Cache-Control": f"max-age={self.status_ttl}"},
                )
            return JSONResponse({"error": "not_found"}, status_code=404)

        routes = [Route("/{path:path}", dispatch, methods=["GET", "POST", "HEAD"])]
        return Starlette(routes=routes)

    # -- lifecycle ----------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> SuiteIssuer:
        issuer_sock = bind(self.issuer_port)
        canary_sock = bind(self.canary_port)
        self.issuer_port = issuer_sock.getsockname()[1]
        self.canary_port = canary_sock.getsockname()[1]
        self._sockets = [issuer_sock, canary_sock]
        config = uvicorn.Config(
            self.app(),
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
        )
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": self._sockets},
            daemon=True,
            name="mcpa-suite-issuer",
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                self.stop()
                raise RuntimeError("the suite's issuer did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        for sock in self._sockets:
            sock.close()
        self._sockets = []
        self._server = None
        self._thread = None

    def __enter__(self) -> SuiteIssuer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def describe(self, resource: str = "", required_scope: str = "") -> str:
        lines = [
            "The suite is the issuer for this run:",
            f"  issuer    {self.url}  (metadata {self.url}/.well-known/oauth-authorization-server,"
            f" JWKS {self.url}/jwks, status lists {self.url}/status/...)",
            f"  canary    {self.canary_url}  (must never be contacted by the server under test)",
        ]
        if resource:
            lines += [
                "Configure the server under test to trust:",
                f"  issuer          {self.url}",
                f"  resource (aud)  {resource}",
                f"  required scope  {required_scope or '(none)'}",
                "  (the server fetches the suite's keys from its JWKS on first use)",
            ]
        return "\n".join(lines)
