"""The consent page, driven with plain HTTP form posts as a person's browser would."""

from __future__ import annotations

import re
from dataclasses import replace

from mcp_auth.reference.issuer.clients import get_client, save_client
from mcp_auth.reference.issuer.users import add_user

from .conftest import MODEL, PASSWORD, RESOURCE, TOOL_RESOURCES, USER, World

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

    assert ok.headers["location"] == f"/consent/grants/{gid}?done=approved"

    # The agent can now get tokens; the grant page shows the activity.
    world.agent.issue(gid, TOOL_RESOURCES[0], MODEL)
    detail = world.http.get(f"/consent/grants/{gid}")
    assert "token.issued" in detail.text and "grant.approved" in detail.text
    assert "agent:agent (model model-1)" in detail.text

    # Approving twice is a conflict; revoking asks for confirmation, then works once.
    assert (
        world.http.post(f"/consent/grants/{gid}/approve", data={"csrf_token": csrf}).status_code
        == 409
    )
    revoked = world.http.post(
        f"/consent/grants/{gid}/revoke",
        data={"csrf_token": csrf, "confirm": "yes"},
        follow_redirects=False,
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
    assert "Travel &lt;b&gt;Assistant&lt;/b&gt;" in home and "<b>Assistant</b>" not in home
    detail = world.http.get(f"/consent/grants/{gid}").text
    assert "<strong>Travel &lt;b&gt;Assistant&lt;/b&gt;</strong>" in detail
    assert "(<code>agent</code>)" in detail
    assert "Files tool (<code>tool-1</code>)" in detail
    assert "<code>tool-2</code>" in detail and "<b>Assistant</b>" not in detail


# -- the decision flow: overview, detail, confirmation, result messages -----------------------
def grant_status(world: World, gid: str) -> str:
    return str(world.http.get(f"/grants/{gid}", headers=world.admin).json()["status"])


def test_overview_links_to_grants_and_has_no_buttons(world: World) -> None:
    gid = pending_grant(world, purpose="Plan my week")
    sign_in(world)
    home = world.http.get("/consent").text
    assert f'href="/consent/grants/{gid}"' in home and "Review and decide" in home
    assert "/approve" not in home and "/deny" not in home and "/revoke" not in home
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in home


def test_pending_grant_offers_approve_and_deny_only(world: World) -> None:
    gid = pending_grant(world)
    sign_in(world)
    page = world.http.get(f"/consent/grants/{gid}").text
    assert f'action="/consent/grants/{gid}/approve"' in page
    assert f'action="/consent/grants/{gid}/deny"' in page
    assert "/revoke" not in page
    # Revoking a pending grant on the page is refused: deny it instead.
    csrf = csrf_of(page)
    refused = world.http.post(
        f"/consent/grants/{gid}/revoke", data={"csrf_token": csrf, "confirm": "yes"}
    )
    assert refused.status_code == 409 and "deny it instead" in refused.text
    assert grant_status(world, gid) == "pending"


def test_active_grant_offers_revoke_only(world: World) -> None:
    sign_in(world)
    page = world.http.get(f"/consent/grants/{world.grant_id}").text
    assert f'href="/consent/grants/{world.grant_id}/revoke"' in page
    assert "/approve" not in page and "/deny" not in page
    denied = world.http.post(
        f"/consent/grants/{world.grant_id}/deny", data={"csrf_token": csrf_of(page)}
    )
    assert denied.status_code == 409 and grant_status(world, world.grant_id) == "active"


def test_revoke_asks_for_confirmation(world: World) -> None:
    gid = world.grant_id
    sign_in(world)
    # The Revoke… link opens a confirmation page whose form carries confirm=yes.
    confirm = world.http.get(f"/consent/grants/{gid}/revoke")
    assert confirm.status_code == 200 and "Revoke the permission of" in confirm.text
    assert '<input type="hidden" name="confirm" value="yes">' in confirm.text
    assert "No, keep it" in confirm.text and "<script" not in confirm.text
    assert confirm.headers["content-security-policy"].startswith("default-src 'none'")
    csrf = csrf_of(confirm.text)
    # A post without the confirmation shows the question again and changes nothing.
    unconfirmed = world.http.post(f"/consent/grants/{gid}/revoke", data={"csrf_token": csrf})
    assert unconfirmed.status_code == 200 and "Yes, revoke" in unconfirmed.text
    assert grant_status(world, gid) == "active"
    # Confirmed without a CSRF token: refused.
    forged = world.http.post(f"/consent/grants/{gid}/revoke", data={"confirm": "yes"})
    assert forged.status_code == 403 and grant_status(world, gid) == "active"
    done = world.http.post(
        f"/consent/grants/{gid}/revoke",
        data={"csrf_token": csrf, "confirm": "yes"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/consent/grants/{gid}?done=revoked"
    assert grant_status(world, gid) == "revoked"
    page = world.http.get(done.headers["location"]).text
    assert 'role="status"' in page and "You revoked this permission." in page
    # A second confirmation changes nothing and says so.
    again = world.http.post(
        f"/consent/grants/{gid}/revoke", data={"csrf_token": csrf, "confirm": "yes"}
    )
    assert again.status_code == 409 and "already ended" in again.text
    # The confirmation page of an ended grant leads back to the grant.
    back = world.http.get(f"/consent/grants/{gid}/revoke", follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"] == f"/consent/grants/{gid}"


def test_result_messages_after_approve_and_deny(world: World) -> None:
    approve, deny = pending_grant(world), pending_grant(world)
    sign_in(world)
    csrf = csrf_of(world.http.get("/consent").text)
    approved = world.http.post(f"/consent/grants/{approve}/approve", data={"csrf_token": csrf})
    assert approved.status_code == 200 and "You approved this request." in approved.text
    assert "can now act for you" in approved.text and "until" in approved.text
    denied = world.http.post(f"/consent/grants/{deny}/deny", data={"csrf_token": csrf})
    assert denied.status_code == 200 and "You denied this request." in denied.text
    # Without a result in the URL there is no message; the parameter is never reflected.
    plain = world.http.get(f"/consent/grants/{approve}").text
    assert "You approved this request." not in plain
    odd = world.http.get(f"/consent/grants/{approve}?done=<b>x</b>").text
    assert "<b>x</b>" not in odd and "&lt;b&gt;" not in odd
    # A message only when it matches the grant's status.
    assert "You denied" not in world.http.get(f"/consent/grants/{approve}?done=denied").text


def test_activity_names_who_did_what(world: World) -> None:
    client = get_client(world.ctx.db, "agent")
    assert client is not None
    save_client(world.ctx.db, replace(client, client_name="Travel Assistant"))
    gid = pending_grant(world)
    sign_in(world)
    csrf = csrf_of(world.http.get("/consent").text)
    world.http.post(f"/consent/grants/{gid}/approve", data={"csrf_token": csrf})
    world.agent.issue(gid, TOOL_RESOURCES[0], MODEL)
    world.http.post(f"/consent/grants/{gid}/revoke", data={"csrf_token": csrf, "confirm": "yes"})
    page = world.http.get(f"/consent/grants/{gid}").text
    assert "Travel Assistant asked for this permission." in page
    assert "You approved it." in page and "You revoked it." in page
    assert "Travel Assistant received an access key." in page
    assert "Travel Assistant approved" not in page
    assert "chain: Travel Assistant (model model-1)" in page
    events = world.http.get(f"/grants/{gid}/events", headers=world.admin).json()["events"]
    actors = {e["type"]: e["actor"] for e in events}
    assert actors["grant.approved"] == {"type": "user", "id": USER}
    assert actors["grant.revoked"] == {"type": "user", "id": USER}
    # The admin-provisioned grant names the administrator.
    admin_page = world.http.get(f"/consent/grants/{world.grant_id}").text
    assert "An administrator gave this permission on your behalf." in admin_page


def test_scopes_and_resources_in_plain_words(world: World) -> None:
    from mcp_auth.reference.issuer.consent_words import first_depth
    from mcp_auth.reference.issuer.descriptions import Description, save_description

    save_description(
        world.ctx.db, Description("scope", "files:read", "Read your <files>", "See them all.")
    )
    save_description(world.ctx.db, Description("resource", RESOURCE, "Your file store"))
    gid = pending_grant(world, expires_in=7 * 86400, max_depth=4, max_token_lifetime=120)
    sign_in(world)
    page = world.http.get(f"/consent/grants/{gid}").text
    assert "Read your &lt;files&gt;" in page and "See them all." in page
    assert "<code>files:read</code>" in page  # the raw token, as a detail
    assert "Your file store" in page
    # An undescribed scope says so; the raw value stays visible as its name.
    assert "“data:read”" in page and "no description of this permission" in page
    assert "For 7 days, until " in page
    hops = 4 - first_depth()  # whatever hops a freshly issued token has
    assert f"at most {hops} tools, one after another" in page
    assert "at most 2 minutes" in page
