"""The ASGI middleware: exact statuses, challenges and bodies for each failure class."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from mcp_auth.reference.verifier import (
    MCPAuthMiddleware,
    StaticStatus,
    Verifier,
    get_principal,
    metadata_route,
    require_scopes,
)
from tests.reference.verifier.helpers import NOW, RESOURCE, STATUS_URI, MiniIssuer

MINI = MiniIssuer()
RM = "https://rs.example/.well-known/oauth-protected-resource/data"
ALGS = 'algs="ES256 Ed25519"'


def challenge(error: str | None = None, description: str | None = None, scope: str | None = None):
    params = []
    if error:
        params += [f'error="{error}"', f'error_description="{description}"']
    if scope:
        params.append(f'scope="{scope}"')
    params += [ALGS, f'resource_metadata="{RM}"']
    return "DPoP " + ", ".join(params)


class BrokenKeys:
    def select(self, kid: object, alg: str) -> Any:
        raise RuntimeError("database password is hunter2")


def make_app(
    *, status: Any = None, keys: Any = None, scopes_for: Any = None, required: Any = "files:read"
) -> Starlette:
    settings_ = MINI.settings(required_scopes=frozenset({"files:read"}))
    verifier = Verifier(
        settings_,
        keys=keys or MINI.keyset(),
        status=status or StaticStatus(),
        clock=lambda: NOW,
    )

    async def data(request: Request) -> Response:
        principal = get_principal(request)
        assert principal is not None
        assert request.user is principal
        return JSONResponse({"sub": principal.sub, "scopes": sorted(request.auth.scopes)})

    @require_scopes("files:write", "admin")
    async def admin(request: Request) -> Response:
        del request
        return JSONResponse({"admin": True})

    async def boom(request: Request) -> Response:
        raise ValueError("application bug")

    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hi")
        await websocket.close()

    return Starlette(
        routes=[
            metadata_route(settings_),
            Route("/data", data, methods=["GET", "POST"]),
            Route("/admin", admin),
            Route("/boom", boom),
            WebSocketRoute("/ws", ws),
        ],
        middleware=[
            Middleware(
                MCPAuthMiddleware,
                verifier=verifier,
                required_scopes=required,
                scopes_for=scopes_for,
            )
        ],
    )


@pytest.fixture
def client() -> Any:
    with TestClient(make_app(), base_url="https://rs.example") as c:
        yield c


def auth(token: str | None = None, *, proof: str | None = "auto", url: str = RESOURCE,
         method: str = "GET") -> dict[str, str]:  # fmt: skip
    token = token or MINI.token()
    headers = {"Authorization": f"DPoP {token}"}
    if proof == "auto":
        proof = MINI.proof(token, url=url, method=method)
    if proof is not None:
        headers["DPoP"] = proof
    return headers


def assert_error(
    response: httpx.Response, status: int, error: str, description: str, scope: str | None = None
) -> None:
    assert response.status_code == status
    assert response.headers["www-authenticate"] == challenge(error, description, scope)
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": error, "error_description": description}


def test_valid_request(client: TestClient) -> None:
    response = client.get("/data", headers=auth())
    assert response.status_code == 200
    assert response.json() == {"sub": "user-1", "scopes": ["files:read", "files:write"]}


def test_valid_request_with_query(client: TestClient) -> None:
    response = client.post("/data?x=1", headers=auth(method="POST"))
    assert response.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {"DPoP": "abc"}, {"X-Token": "DPoP x"}],
)
def test_no_credentials(client: TestClient, headers: dict[str, str]) -> None:
    response = client.get("/data", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge()
    assert response.headers["cache-control"] == "no-store"
    assert response.content == b""


def test_token_in_query_is_not_a_credential(client: TestClient) -> None:
    response = client.get(f"/data?access_token={MINI.token()}")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge()


def test_bearer_scheme(client: TestClient) -> None:
    response = client.get("/data", headers={"Authorization": f"Bearer {MINI.token()}"})
    assert_error(response, 401, "invalid_token", "DPoP-bound token presented as bearer")


def test_other_scheme(client: TestClient) -> None:
    response = client.get("/data", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert_error(response, 401, "invalid_token", "authorization scheme must be DPoP")


def test_dpop_scheme_case_insensitive(client: TestClient) -> None:
    token = MINI.token()
    headers = {"Authorization": f"dpop {token}", "DPoP": MINI.proof(token)}
    assert client.get("/data", headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("headers", "description"),
    [
        ([("Authorization", "DPoP a.b.c"), ("Authorization", "DPoP a.b.c")],
         "repeated Authorization header"),
        ([("Authorization", "DPoP a.b.c"), ("DPoP", "x"), ("DPoP", "y")],
         "repeated DPoP header"),
        ([("Authorization", "DPoP a.b.c, DPoP d.e.f")], "malformed Authorization header"),
        ([("Authorization", "DPoP a.b.c"), ("DPoP", "x, y")], "repeated DPoP header"),
        ([("Authorization", "DPoP")], "malformed Authorization header"),
        ([("Authorization", "DPoP  a.b.c")], "malformed Authorization header"),
        ([("Authorization", "DPoP a.b.c x")], "malformed Authorization header"),
        ([("Authorization", "DPoP a\"b")], "malformed Authorization header"),
        ([("Authorization", "Bearer")], "malformed Authorization header"),
    ],
)  # fmt: skip
def test_malformed_or_repeated_headers(
    client: TestClient, headers: list[tuple[str, str]], description: str
) -> None:
    response = client.get("/data", headers=headers)
    assert_error(response, 400, "invalid_request", description)


def test_invalid_token_forms(client: TestClient) -> None:
    response = client.get("/data", headers=auth("a.b.c", proof=None))
    assert_error(response, 401, "invalid_token", "token is not a well-formed JWT")
    token = MINI.token(MINI.claims(aud="https://rs.example/other"))
    response = client.get("/data", headers=auth(token))
    assert_error(response, 401, "invalid_token", "token audience is not this resource")
    response = client.get("/data", headers=auth("A" * 9000, proof=None))
    assert_error(response, 401, "invalid_token", "token too large")


def test_invalid_proof_forms(client: TestClient) -> None:
    response = client.get("/data", headers=auth(proof=None))
    assert_error(response, 401, "invalid_dpop_proof", "DPoP proof missing")
    response = client.get("/data", headers=auth(method="POST"))
    assert_error(
        response, 401, "invalid_dpop_proof", "DPoP proof htm does not match the request method"
    )
    response = client.get("/data", headers=auth(url="https://rs.example/admin"))
    assert_error(
        response, 401, "invalid_dpop_proof", "DPoP proof htu does not match the request URL"
    )
    headers = auth()
    assert client.get("/data", headers=headers).status_code == 200
    response = client.get("/data", headers=headers)
    assert_error(response, 401, "invalid_dpop_proof", "DPoP proof jti has been used before")


def test_htu_uses_configured_origin_not_host_header(client: TestClient) -> None:
    token = MINI.token()
    headers = {**auth(token, url="https://evil.example/data"), "Host": "evil.example"}
    response = client.get("/data", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_dpop_proof"


def test_insufficient_scope(client: TestClient) -> None:
    token = MINI.token(MINI.claims(scope="files:write"))
    response = client.get("/data", headers=auth(token))
    assert_error(
        response, 403, "insufficient_scope", "the operation needs more scope", "files:read"
    )


def test_require_scopes_decorator(client: TestClient) -> None:
    response = client.get("/admin", headers=auth(url="https://rs.example/admin"))
    assert_error(
        response, 403, "insufficient_scope", "the operation needs more scope", "admin files:write"
    )
    token = MINI.token(MINI.claims(scope="files:read files:write admin"))
    response = client.get("/admin", headers=auth(token, url="https://rs.example/admin"))
    assert response.status_code == 200


def test_scopes_for_per_request() -> None:
    app = make_app(scopes_for=lambda scope: {"files:write"} if scope["method"] == "POST" else None)
    with TestClient(app, base_url="https://rs.example") as c:
        token = MINI.token(MINI.claims(scope="files:read"))
        assert c.get("/data", headers=auth(token)).status_code == 200
        response = c.post("/data", headers=auth(token, method="POST"))
        assert_error(
            response, 403, "insufficient_scope", "the operation needs more scope", "files:write"
        )


def test_revoked_and_unavailable() -> None:
    with TestClient(make_app(status=StaticStatus({STATUS_URI: {7}})),
                    base_url="https://rs.example") as c:  # fmt: skip
        assert_error(c.get("/data", headers=auth()), 401, "invalid_token",
                     "token grant has been revoked")  # fmt: skip
    with TestClient(make_app(status=StaticStatus(unavailable={STATUS_URI})),
                    base_url="https://rs.example") as c:  # fmt: skip
        response = c.get("/data", headers=auth())
        assert_error(response, 503, "temporarily_unavailable",
                     "token status cannot be checked right now")  # fmt: skip
        assert response.headers["retry-after"] == "5"


def test_internal_error_is_generic_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with (
        TestClient(make_app(keys=BrokenKeys()), base_url="https://rs.example") as c,
        caplog.at_level(logging.INFO, logger="mcp_auth.reference.verifier"),
    ):
        response = c.get("/data", headers=auth())
    assert_error(response, 500, "server_error", "internal error")
    assert "hunter2" not in response.text
    assert "hunter2" in caplog.text  # the detail is logged, not sent


def test_application_errors_are_not_swallowed(client: TestClient) -> None:
    with pytest.raises(ValueError, match="application bug"):
        client.get("/boom", headers=auth(url="https://rs.example/boom"))


def test_refusal_logs_requirement(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="mcp_auth.reference.verifier"):
        client.get("/data", headers=auth(MINI.token(MINI.claims(iss="https://evil.example"))))
    assert "MCPA-VER-014" in caplog.text


def test_metadata_route_is_public(client: TestClient) -> None:
    response = client.get("/.well-known/oauth-protected-resource/data")
    assert response.status_code == 200
    assert response.json() == {
        "resource": RESOURCE,
        "authorization_servers": ["https://issuer.example"],
        "scopes_supported": ["files:read"],
        "bearer_methods_supported": ["header"],
        "dpop_bound_access_tokens_required": True,
        "dpop_signing_alg_values_supported": ["ES256", "Ed25519"],
        "mcpa_version": "draft-01",
    }


def test_websocket_without_credentials_is_closed(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/ws"):
        pass
    assert info.value.code == 1008


def test_websocket_with_credentials() -> None:
    with TestClient(make_app(), base_url="https://rs.example") as c:
        token = MINI.token()
        headers = auth(token, url="https://rs.example/ws")
        with c.websocket_connect("/ws", headers=headers) as ws:
            assert ws.receive_text() == "hi"


def test_httpx_asgi_transport() -> None:
    async def main() -> None:
        transport = httpx.ASGITransport(app=make_app())
        async with httpx.AsyncClient(transport=transport, base_url="https://rs.example") as c:
            assert (await c.get("/data", headers=auth())).status_code == 200
            assert (await c.get("/data?q=1", headers=auth())).status_code == 200
            assert (await c.get("/data")).status_code == 401

    asyncio.run(main())


_APP = make_app()


@settings(deadline=None, max_examples=150)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["Authorization", "DPoP", "Host"]),
            st.one_of(
                st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=60),
                st.sampled_from(["DPoP ", "Bearer ", "DPoP a.b.c", "dpop " + MINI.token()]),
            ),
        ),
        max_size=3,
    )
)
def test_no_header_combination_reaches_500(headers: list[tuple[str, str]]) -> None:
    with TestClient(_APP, base_url="https://rs.example") as c:
        response = c.get("/data", headers=headers)
    assert response.status_code in (200, 400, 401, 403, 503)
    if response.status_code != 200:
        assert response.headers["www-authenticate"].startswith("DPoP ")
