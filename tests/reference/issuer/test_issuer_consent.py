"""The consent page, driven with plain HTTP form posts as a person's browser would."""

from __future__ import annotations

import re
from dataclasses import replace

from mcp_auth.reference.issuer.clients import get_client, save_client
from mcp_auth.reference.issuer.users import add_user

from .conftest import MODEL, PASSWORD, TOOL_RESOURCES, USER, World

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, html
    return match.group(1)


def pending_grant(world: World, **over: object) -> str:
    body = world.grant_body(**over)
    body.pop("client_id")
    return str(world.agent.create_grant(body)["grant_id"])


def sign_in(world: World, user: str = USER, password: str = PASSWORD) -> None:
    page = world.http.get("/consent")
    assert page.status_code == 200 and "Sign in" in page.text
    response = world.http.post(
        "/consent/login",
        data={
            "username": user,
            "password": password,
            "csrf_token": csrf_of(page.text),
            "next": "/consent",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def test_person_approves_a_pending_grant(world: World) -> None:
    gid = pending_grant(world, purpose="Plan my week")
    # Not signed in: the grant page asks for a login.
    page = world.http.get(f"/consent/grants/{gid}")
    assert "Sign in" in page.text and "Plan my week" not in page.text
    # Login form without / with a wrong CSRF token is refused.
    login = {"username": USER, "password": PASSWORD}
    assert world.http.post("/consent/login", data=login).status_code == 403
    bad = world.http.post("/consent/login", data={**login, "csrf_token": "forged"})
    assert bad.status_code == 403
    # Wrong password.
    page = world.http.get("/consent")
    wrong = world.http.post(
        "/consent/login", data={**login, "password": "nope-nope", "csrf_token": csrf_of(page.text)}
    )
    assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text
    sign_in(world)

    home = world.http.get("/consent")
    assert "Waiting for your decision" in home.text and gid in home.text
    detail = world.http.get(f"/consent/grants/{gid}")
    assert detail.status_code == 200
    for text in (
        *TOOL_RESOURCES,
        "files:write",
        "tool-3",
        MODEL,
        "Plan my week",
        "pending",
        "agent",
    ):
        assert text in detail.text
    assert "<script" not in detail.text
    assert detail.headers["content-security-policy"].startswith("default-src 'none'")
    assert detail.headers["x-frame-options"] == "DENY"
    csrf = csrf_of(detail.text)

    # Approve without and with a wrong CSRF token: refused, grant unchanged.
    assert world.http.post(f"/consent/grants/{gid}/approve", data={}).status_code == 403
    assert (
        world.http.post(
            f"/consent/grants/{gid}/approve", data={"csrf_token": csrf + "x"}
        ).status_code
        == 403
    )
    assert world.http.get(f"/grants/{gid}", headers=world.admin).json()["status"] == "pending"

    ok = world.http.post(
        f"/consent/grants/{gid}/approve", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert ok.status_code == 303
    assert world.http.get(f"/grants/{gid}", headers=world.admin).json()["status"] == "active"

    # The agent can now get tokens; the grant page shows the activity.
    world.agent.issue(gid, TOOL_RESOURCES[0], MODEL)
    detail = world.http.get(f"/consent/grants/{gid}")
    assert "token.issued" in detail.text and "grant.approved" in detail.text
    assert "agent:agent (model model-1)" in detail.text

    # Approving twice is a conflict, revoking works once.
    assert (
        world.http.post(f"/consent/grants/{gid}/approve", data={"csrf_token": csrf}).status_code
        == 409
    )
    revoked = world.http.post(
        f"/consent/grants/{gid}/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert revoked.status_code == 303
    assert world.http.get(f"/grants/{gid}", headers=world.admin).json()["status"] == "revoked"


def test_deny(world: World) -> None:
    gid = pending_grant(world)
    sign_in(world)
    csrf = csrf_of(world.http.get(f"/consent/grants/{gid}").text)
    world.http.post(f"/consent/grants/{gid}/deny", data={"csrf_token": csrf})
    assert world.http.get(f"/grants/{gid}", headers=world.admin).json()["status"] == "denied"
    assert (
        world.http.post(f"/consent/grants/{gid}/approve", data={"csrf_token": csrf}).status_code
        == 409
    )


def test_everything_is_escaped(world: World) -> None:
    gid = pending_grant(world, purpose='<script>alert("x")</script>', models=["<b>m</b>"])
    sign_in(world)
    detail = world.http.get(f"/consent/grants/{gid}").text
    assert "<script>" not in detail and "<b>m</b>" not in detail
    assert "&lt;script&gt;" in detail and "&lt;b&gt;m&lt;/b&gt;" in detail


def test_other_users_cannot_see_or_act(world: World) -> None:
    gid = pending_grant(world)
    add_user(world.ctx.db, "bob", "bobs password")
    sign_in(world, "bob", "bobs password")
    page = world.http.get(f"/consent/grants/{gid}")
    assert page.status_code == 404
    csrf = csrf_of(world.http.get("/consent").text)
    assert (
        world.http.post(f"/consent/grants/{gid}/approve", data={"csrf_token": csrf}).status_code
        == 404
    )
    assert gid not in world.http.get("/consent").text


def test_logout_requires_csrf_and_ends_session(world: World) -> None:
    sign_in(world)
    csrf = csrf_of(world.http.get("/consent").text)
    assert world.http.post("/consent/logout", data={}).status_code == 403
    out = world.http.post("/consent/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303
    world.http.cookies.clear()
    assert "Sign in" in world.http.get("/consent").text


def test_session_cookie_flags(world: World) -> None:
    page = world.http.get("/consent")
    response = world.http.post(
        "/consent/login",
        data={"username": USER, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    cookie = next(
        v
        for k, v in response.headers.multi_items()
        if k == "set-cookie" and v.startswith("mcpa_session=")
    )
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/consent" in cookie


def test_open_redirect_refused(world: World) -> None:
    page = world.http.get("/consent")
    response = world.http.post(
        "/consent/login",
        data={
            "username": USER,
            "password": PASSWORD,
            "csrf_token": csrf_of(page.text),
            "next": "//evil.test/",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/consent"


def test_purpose_marked_unverified(world: World) -> None:
    gid = pending_grant(world, purpose="Tidy my inbox")
    sign_in(world)
    page = world.http.get(f"/consent/grants/{gid}").text
    assert "Tidy my inbox" in page and "not verified by the issuer" in page


def test_registered_display_names_are_shown_escaped(world: World) -> None:
    # MCPA-GRT-008: the agent by client_id and its registered display name (client_name);
    # MCPA-GRT-017: the name is escaped like every other value.
    for client_id, name in (("agent", "Travel <b>Assistant</b>"), ("tool-1", "Files tool")):
        client = get_client(world.ctx.db, client_id)
        assert client is not None
        save_client(world.ctx.db, replace(client, client_name=name))
    gid = pending_grant(world)
    sign_in(world)
    home = world.http.get("/consent").text
    assert "Travel &lt;b&gt;Assistant&lt;/b&gt; (<code>agent</code>)" in home
    detail = world.http.get(f"/consent/grants/{gid}").text
    assert "Travel &lt;b&gt;Assistant&lt;/b&gt; (<code>agent</code>)" in detail
    assert "Files tool (<code>tool-1</code>)" in detail
    assert "<code>tool-2</code>" in detail and "<b>Assistant</b>" not in detail
