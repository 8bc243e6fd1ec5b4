"""``invalid_dpop_proof`` is 401 at a resource server, 400 only at the token endpoint.

RFC 9449 section 7.1 (resource servers: 401 with a ``DPoP`` challenge) against section 5
(token endpoint: 400). ``mcp_auth.reference.errors.InvalidDPoPProof`` defaults to the token
endpoint's 400, so every resource-server path must answer 401: here every kind of bad
proof is sent through the reference verifier's ASGI middleware, in one process, and each
answer must be 401 ``invalid_dpop_proof``. ``errors.at_resource_server`` is the mapping a
resource server can apply to any error it is about to answer.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from mcp_auth.reference.dpop import make_dpop_proof
from mcp_auth.reference.errors import (
    InvalidDPoPProof,
    InvalidRequest,
    InvalidToken,
    at_resource_server,
)
from mcp_auth.reference.jose import (
    b64url_encode,
    generate_private_key,
    jwk_thumbprint,
    load_jwks,
    private_jwk,
    public_jwk,
    sign_compact,
)
from mcp_auth.reference.verifier import (
    MCPAuthMiddleware,
    StaticStatus,
    Verifier,
    VerifierSettings,
)

ISSUER = "https://issuer.example"
ORIGIN = "https://api.example"
RESOURCE = f"{ORIGIN}/data"
STATUS_URI = f"{ISSUER}/status/1"
ISSUER_KEY = generate_private_key("ES256")
KEYS = load_jwks({"keys": [public_jwk(ISSUER_KEY, "k1", "ES256")]})
HOLDER = generate_private_key("ES256")
HOLDER_JWK = public_jwk(HOLDER)
ACT = {"actor_type": "agent", "sub": "agent-1", "mcpa_model": "model-x"}


def mint() -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": "alice",
        "aud": RESOURCE,
        "client_id": "agent-1",
        "iat": now,
        "exp": now + 120,
        "jti": secrets.token_urlsafe(16),
        "scope": "data:read",
        "grant_id": "grant-1",
        "cnf": {"jkt": jwk_thumbprint(HOLDER_JWK)},
        "status": {"mcpa_grant_list": {"idx": 3, "uri": STATUS_URI}},
        "act": ACT,
    }
    return sign_compact({"typ": "mcpa+jwt", "kid": "k1"}, claims, ISSUER_KEY, "ES256")


def proof_with(token: str, *, header: dict[str, Any] | None = None, **claims: Any) -> str:
    """A proof by the holder's key with header or claim members replaced (None: removed)."""
    body: dict[str, Any] = {
        "jti": secrets.token_urlsafe(16),
        "htm": "GET",
        "htu": RESOURCE,
        "iat": int(time.time()),
        "ath": b64url_encode(hashlib.sha256(token.encode()).digest()),
    }
    for name, value in claims.items():
        if value is None:
            body.pop(name, None)
        else:
            body[name] = value
    head: dict[str, Any] = {"typ": "dpop+jwt", "alg": "ES256", "jwk": HOLDER_JWK}
    for name, value in (header or {}).items():
        if value is None:
            head.pop(name, None)
        else:
            head[name] = value
    return sign_compact(head, body, HOLDER, "ES256")


def unsigned(token: str) -> str:
    """The holder's proof re-labelled ``alg: none`` with no signature."""
    _, payload, _ = proof_with(token).split(".")
    head = {"typ": "dpop+jwt", "alg": "none", "jwk": HOLDER_JWK}
    return b64url_encode(json.dumps(head).encode()) + f".{payload}."


def tamper(proof: str) -> str:
    head, payload, signature = proof.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return f"{head}.{payload}.{flipped}"


async def data(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


@pytest.fixture
def http() -> Iterator[TestClient]:
    verifier = Verifier(
        VerifierSettings(issuer=ISSUER, resource=RESOURCE, required_scopes=frozenset()),
        keys=KEYS,
        status=StaticStatus({STATUS_URI: ()}),
    )
    app = MCPAuthMiddleware(Starlette(routes=[Route("/data", data)]), verifier)
    with TestClient(app, base_url=ORIGIN) as client:
        yield client


BAD_PROOFS: list[tuple[str, Callable[[str], str | None]]] = [
    ("missing", lambda t: None),
    ("not a JWT", lambda t: "abc"),
    ("too large", lambda t: "a" * 5000),
    ("typ", lambda t: proof_with(t, header={"typ": "JWT"})),
    ("alg none", unsigned),
    ("jku", lambda t: proof_with(t, header={"jku": "https://evil.example/jwks"})),
    ("no jwk", lambda t: proof_with(t, header={"jwk": None})),
    ("private jwk", lambda t: proof_with(t, header={"jwk": private_jwk(HOLDER)})),
    ("signature", lambda t: tamper(proof_with(t))),
    ("no jti", lambda t: proof_with(t, jti=None)),
    ("htm", lambda t: proof_with(t, htm="POST")),
    ("htu", lambda t: proof_with(t, htu=f"{ORIGIN}/other")),
    ("iat old", lambda t: proof_with(t, iat=int(time.time()) - 600)),
    ("iat future", lambda t: proof_with(t, iat=int(time.time()) + 600)),
    ("no ath", lambda t: proof_with(t, ath=None)),
    ("ath", lambda t: proof_with(t, ath="x" * 43)),
]


@pytest.mark.parametrize("name,make", BAD_PROOFS, ids=[name for name, _ in BAD_PROOFS])
def test_every_bad_proof_is_401_at_a_resource_server(
    http: TestClient, name: str, make: Callable[[str], str | None]
) -> None:
    token = mint()
    proof = make(token)
    headers = {"Authorization": f"DPoP {token}"}
    if proof is not None:
        headers["DPoP"] = proof
    response = http.get("/data", headers=headers)
    assert response.status_code == 401, (name, response.status_code, response.text)
    assert response.json()["error"] == "invalid_dpop_proof"
    assert response.headers["www-authenticate"].startswith('DPoP error="invalid_dpop_proof"')


def test_replayed_proof_is_401(http: TestClient) -> None:
    token = mint()
    proof = make_dpop_proof(HOLDER, HOLDER_JWK, "GET", RESOURCE, access_token=token)
    headers = {"Authorization": f"DPoP {token}", "DPoP": proof}
    assert http.get("/data", headers=headers).status_code == 200
    again = http.get("/data", headers=headers)
    assert again.status_code == 401 and again.json()["error"] == "invalid_dpop_proof"


def test_at_resource_server_maps_only_invalid_dpop_proof() -> None:
    token_endpoint = InvalidDPoPProof("DPoP proof htm mismatch", requirement="MCPA-VER-019")
    assert token_endpoint.status == InvalidDPoPProof.TOKEN_ENDPOINT_STATUS == 400
    mapped = at_resource_server(token_endpoint)
    assert isinstance(mapped, InvalidDPoPProof)
    assert mapped.status == InvalidDPoPProof.RESOURCE_SERVER_STATUS == 401
    assert (mapped.error, mapped.description, mapped.requirement) == (
        "invalid_dpop_proof",
        "DPoP proof htm mismatch",
        "MCPA-VER-019",
    )
    assert mapped.__cause__ is token_endpoint and token_endpoint.status == 400
    already = InvalidDPoPProof("x", status=401)
    assert at_resource_server(already) is already
    for other in (InvalidToken("x"), InvalidRequest("repeated DPoP header")):
        assert at_resource_server(other) is other
