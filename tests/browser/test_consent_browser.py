"""The consent page in a real Chromium: sign in, read, approve, deny, revoke with confirmation.

Runs against a real ``mcp-auth serve`` seeded by ``mcp-auth demo seed``, with JavaScript
switched off in the browser (the page must not need it). Screenshots (desktop and a 390 px
phone) go to the ``screenshots`` folder (``$MCP_AUTH_SCREENSHOTS`` to keep them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .helpers import PHONE, LiveIssuer, new_page, notice_text, screenshot, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def activity(page: Any) -> str:
    return str(page.locator("ol.activity").inner_text())


def test_person_decides_in_a_browser(browser: Any, live_issuer: LiveIssuer, screenshots: Path):
    to_approve = live_issuer.request_grant("Sort my holiday photos into albums")
    to_deny = live_issuer.request_grant("Delete old files", scopes=["files:write"])
    page = new_page(browser)

    # Not signed in: the grant's approval_uri asks for the password, then shows the grant.
    sign_in(page, live_issuer, f"/consent/grants/{to_approve}")
    assert page.url.endswith(f"/consent/grants/{to_approve}")
    assert page.locator('meta[name="viewport"]').count() == 1

    # The pending grant in plain words: who, why, what, where, tools, model, how long, limits.
    h1 = page.locator("h1").inner_text()
    assert h1 == "MCP-Auth demo agent asks for your permission"
    card = page.locator(".card").inner_text()
    for text in (
        "Sort my holiday photos into albums",
        "not verified by the issuer",
        "Read your files",
        "See the names and contents of your files.",
        "Change your files",
        "MCP-Auth demo tool 1",
        "Demo file store",
        "demo-model",
        "For 7 days, until ",
        "at most 4 tools, one after another",
        "at most 5 minutes",
    ):
        assert text in card, text
    # Raw values are details, folded away until asked for.
    assert not page.get_by_text("files:read", exact=True).first.is_visible()
    screenshot(page, screenshots, "pending-desktop")
    phone = new_page(browser, PHONE)
    sign_in(phone, live_issuer, f"/consent/grants/{to_approve}")
    screenshot(phone, screenshots, "pending-phone")
    approve_box = phone.get_by_role("button", name="Approve").bounding_box()
    assert approve_box is not None and approve_box["width"] > PHONE["width"] * 0.8
    assert approve_box["x"] >= 0 and approve_box["x"] + approve_box["width"] <= PHONE["width"]
    phone.context.close()

    # A pending grant offers Approve and Deny, not Revoke.
    assert page.get_by_role("link", name="Revoke…").count() == 0
    page.get_by_role("button", name="Approve").click()
    page.wait_for_load_state()
    assert "You approved this request." in notice_text(page)
    assert "has your permission" in page.locator("h1").inner_text()
    assert "You approved it." in activity(page)
    assert live_issuer.grant_status(to_approve) == "active"
    screenshot(page, screenshots, "approved-desktop")

    # The overview lists grants; deciding happens on the grant's own page.
    page.goto(live_issuer.url + "/consent")
    assert page.get_by_role("button", name="Approve").count() == 0
    screenshot(page, screenshots, "overview-desktop")
    phone = new_page(browser, PHONE)
    sign_in(phone, live_issuer)
    screenshot(phone, screenshots, "overview-phone")
    phone.context.close()
    page.locator(f'a[href="/consent/grants/{to_deny}"]').click()
    page.wait_for_load_state()
    page.get_by_role("button", name="Deny").click()
    page.wait_for_load_state()
    assert "You denied this request." in notice_text(page)
    assert "You denied it." in activity(page)
    assert live_issuer.grant_status(to_deny) == "denied"

    # Revoke the approved grant: a confirmation page first; "No, keep it" changes nothing.
    page.goto(live_issuer.url + f"/consent/grants/{to_approve}")
    page.get_by_role("link", name="Revoke…").click()
    page.wait_for_load_state()
    assert "Revoke the permission of MCP-Auth demo agent?" in page.locator("h1").inner_text()
    screenshot(page, screenshots, "revoke-confirm-desktop")
    page.get_by_role("link", name="No, keep it").click()
    page.wait_for_load_state()
    assert live_issuer.grant_status(to_approve) == "active"
    page.get_by_role("link", name="Revoke…").click()
    page.wait_for_load_state()
    page.get_by_role("button", name="Yes, revoke").click()
    page.wait_for_load_state()
    assert "You revoked this permission." in notice_text(page)
    assert live_issuer.grant_status(to_approve) == "revoked"

    # The activity names who did what: the agent asked, the user approved and revoked.
    log = activity(page)
    assert "MCP-Auth demo agent asked for this permission." in log
    assert "You approved it." in log and "You revoked it." in log
    assert "demo-agent approved" not in log and "MCP-Auth demo agent approved" not in log
    screenshot(page, screenshots, "revoked-desktop")

    # The seeded, admin-provisioned grant names the administrator.
    page.goto(live_issuer.url + f"/consent/grants/{live_issuer.state['grant_id']}")
    assert "An administrator gave this permission on your behalf." in activity(page)
    page.context.close()
