"""The app: 404/405 and 500 in OAuth JSON form, hostile input never yields a 500."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from mcp_auth.reference.issuer import audit
from mcp_auth.reference.issuer.app import create_app
from mcp_auth.reference.issuer.settings import Settings

from .conftest import ISSUER, World
from .helpers import assert_error

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_404_and_405(world: World) -> None:
    assert_error(world.http.get("/nope"), 404, "not_found")
    response = world.http.get("/token")
    assert_error(response, 405, "invalid_request")
    assert "POST" in response.headers["allow"]
    assert_error(world.http.put("/grants"), 405, "invalid_request")


def test_unexpected_exception_is_generic_500(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from mcp_auth.reference.issuer import metadata

    def boom(_: object) -> dict[str, object]:
        raise RuntimeError("secret internal detail")

    app = create_app(Settings(data_dir=tmp_path / "d", issuer_url=ISSUER))
    monkeypatch.setattr("mcp_auth.reference.issuer.app.issuer_metadata", boom)
    assert metadata.issuer_metadata is not boom
    with caplog.at_level(logging.ERROR), TestClient(app) as http:
        response = http.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 500
    assert response.json() == {
        "error": "server_error",
        "error_description": "internal server error",
    }
    assert "secret" not in response.text
    assert "secret internal detail" in caplog.text
    app.state.ctx.db.close()


@pytest.mark.parametrize("path", ["/token", "/revoke", "/introspect"])
def test_body_too_large(world: World, path: str) -> None:
    response = world.http.post(path, content=b"a=" + b"x" * (64 * 1024), headers=FORM)
    assert_error(response, 413, "invalid_request")


def test_body_too_large_json(world: World) -> None:
    response = world.http.post(
        "/grants",
        content=b"[" + b"1," * 40000 + b"1]",
        headers={**world.admin, "Content-Type": "application/json"},
    )
    assert_error(response, 413, "invalid_request")


@pytest.mark.parametrize(
    "body",
    [
        b"a=%ff%fe",
        b"\xff=1",
        b"a=1&a=2",
        b"&".join(b"p%d=1" % i for i in range(33)),
        b"grant_type=x&grant_type=y",
    ],
)
@pytest.mark.parametrize("path", ["/token", "/revoke", "/introspect"])
def test_malformed_forms(world: World, path: str, body: bytes) -> None:
    assert_error(world.http.post(path, content=body, headers=FORM), 400, "invalid_request")


@pytest.mark.parametrize("path", ["/token", "/revoke", "/introspect"])
def test_wrong_content_type(world: World, path: str) -> None:
    response = world.http.post(path, json={"token": "x"})
    assert_error(response, 400, "invalid_request")


def test_no_refusal_audit_before_authentication(world: World) -> None:
    before = len(audit.all_events(world.ctx.db))
    world.http.post("/token", data={"grant_type": "x"})
    assert len(audit.all_events(world.ctx.db)) == before


ENDPOINTS = [
    "/token",
    "/revoke",
    "/introspect",
    "/grants",
    "/consent/login",
    "/admin/clients",
    "/grants/x",
    "/consent/grants/x/approve",
]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(ENDPOINTS),
    body=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)),
    ctype=st.sampled_from(
        [
            "application/x-www-form-urlencoded",
            "application/json",
            "text/plain",
            "",
            "application/x-www-form-urlencoded; charset=zz",
        ]
    ),
    auth=st.sampled_from([None, "Bearer", "Bearer x.y.z", "DPoP abc", "Bearer \u00e9"]),
    dpop=st.sampled_from([None, "", "a.b.c", "x" * 5000]),
)
def test_hostile_input_never_500(  # noqa: PLR0917 - drawn by Hypothesis
    world: World, path: str, body: bytes, ctype: str, auth: str | None, dpop: str | None
) -> None:
    headers: dict[str, bytes] = {}
    if ctype:
        headers["Content-Type"] = ctype.encode()
    if auth:
        headers["Authorization"] = auth.encode("utf-8")
    if dpop is not None:
        headers["DPoP"] = dpop.encode()
    response = world.http.post(path, content=body, headers=headers)
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "grant_type",
                "grant_id",
                "resource",
                "actor_model",
                "scope",
                "subject_token",
                "subject_token_type",
                "token",
                "requested_token_type",
                "x",
            ]
        ),
        st.text(max_size=50),
        max_size=8,
    )
)
def test_hostile_authenticated_forms_never_500(world: World, params: dict[str, str]) -> None:
    for path in ("/token", "/revoke", "/introspect"):
        form = {**params, **world.agent.auth_form()}
        response = world.http.post(path, data=form, headers=world.agent.token_headers())
        assert response.status_code < 500, response.text
