"""Where the reference issuer and the spec's issuer chapters once disagreed.

URIs up to 2048 characters (Appendix A, A.8a); the requirement ID each refusal carries
(logged, never sent) is the spec's definition of the failed check; identifiers with
non-printable characters are refused (MCPA-GRT-013); admin provisioning records
``grant.approved`` (Table 7-1); a revocation is acknowledged only together with its audit
event (MCPA-AUD-009).
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import pytest

from mcp_auth.reference.issuer import audit, grants
from mcp_auth.reference.issuer.client import make_client_assertion
from mcp_auth.reference.issuer.clients import ClientError, validate_client
from mcp_auth.reference.issuer.metadata import JWT_BEARER_ASSERTION
from mcp_auth.reference.issuer.settings import MAX_URI_CHARS

from .conftest import ISSUER, MODEL, TOOL_RESOURCES, World
from .helpers import assert_error, decode_claims

LONG_TOOL = "https://tool-long.test/" + "t" * (MAX_URI_CHARS - len("https://tool-long.test/"))
LONG_API = "https://api-long.test/" + "a" * (MAX_URI_CHARS - len("https://api-long.test/"))


def bearer(world: World, client_id: str) -> dict[str, str]:
    assertion = make_client_assertion(client_id, world.keys[client_id], ISSUER)
    return {"Authorization": f"Bearer {assertion}"}


def requirement_logged(caplog: pytest.LogCaptureFixture) -> str:
    """The requirement ID of the last refusal the issuer logged."""
    for record in reversed(caplog.records):
        message = record.getMessage()
        if "requirement=" in message:
            return message.split("requirement=", 1)[1].split(" ", 1)[0]
        if " -> " in message and "(MCPA-" in message:
            return message.split("(", 1)[1].split(")", 1)[0]
    raise AssertionError("no refusal logged")


# -- Appendix A, A.8a: URIs up to 2048 characters -----------------------------------------
def test_resource_uris_of_2048_characters_work_end_to_end(world: World) -> None:
    assert len(LONG_TOOL) == len(LONG_API) == MAX_URI_CHARS
    world.register("tool-long", "tool", LONG_TOOL)
    world.register("api-long", "resource", LONG_API)
    grant = world.admin_grant(resources=[LONG_TOOL, LONG_API], tools=["tool-long"])
    assert grant["resources"] == [LONG_TOOL, LONG_API]
    issued = world.agent.issue(grant["grant_id"], LONG_TOOL, MODEL)
    assert decode_claims(issued.access_token)["aud"] == LONG_TOOL
    exchanged = world.client("tool-long").exchange(issued.access_token, LONG_API)
    assert decode_claims(exchanged.access_token)["aud"] == LONG_API
    assert world.client("api-long").introspect(exchanged.access_token)["active"] is True
    events = audit.events_for_grant(world.ctx.db, grant["grant_id"])
    assert [e["resource"] for e in events if e["type"].startswith("token.")] == [
        LONG_TOOL,
        LONG_API,
    ]


def test_uris_over_2048_characters_are_refused(world: World) -> None:
    too_long = LONG_TOOL + "x"
    with pytest.raises(ClientError):
        validate_client(
            {"client_id": "t", "client_type": "tool", "jwks": {"keys": []}, "resource": too_long},
            source="test",
        )
    response = world.http.post(
        "/grants", json=world.grant_body(resources=[too_long]), headers=world.admin
    )
    assert_error(response, 400, "invalid_request")
    form = world.agent.issue_form(world.grant_id, too_long, MODEL)
    response = world.http.post("/token", data=form, headers=world.agent.token_headers())
    assert_error(response, 400, "invalid_request")


# -- MCPA-GRT-013: identifiers ------------------------------------------------------------
@pytest.mark.parametrize(
    "member,value",
    [
        ("sub", "ali\nce"),
        ("sub", "alice\u200b"),
        ("sub", "a" * 257),
        ("models", ["model\x00"]),
        ("tools", ["tool-1\t"]),
    ],
)
def test_non_printable_or_long_identifiers_are_refused(
    world: World, member: str, value: Any
) -> None:
    response = world.http.post(
        "/grants", json=world.grant_body(**{member: value}), headers=world.admin
    )
    assert_error(response, 400, "invalid_request")


# -- requirement IDs carried by refusals --------------------------------------------------
def test_grants_api_requirement_ids(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mcp_auth.issuer")
    body = world.grant_body()
    body.pop("client_id")
    assert_error(
        world.http.post("/grants", json=body, headers=bearer(world, "tool-1")),
        403,
        "access_denied",
    )
    assert requirement_logged(caplog) == "MCPA-GRT-015"
    for query in ("status=bogus", "status=active&status=active", "page=2"):
        response = world.http.get(f"/grants?{query}", headers=bearer(world, "agent"))
        assert_error(response, 400, "invalid_request")
        assert requirement_logged(caplog) == "MCPA-GRT-022"
    response = world.http.post(
        "/grants", json=world.grant_body(client_id="tool-1"), headers=world.admin
    )
    assert_error(response, 400, "invalid_request")
    assert requirement_logged(caplog) == "MCPA-GRT-013"


@pytest.mark.parametrize("endpoint", ["/revoke", "/introspect"])
@pytest.mark.parametrize("token", [None, ""])
def test_missing_token_is_rev_014(
    world: World, caplog: pytest.LogCaptureFixture, endpoint: str, token: str | None
) -> None:
    caplog.set_level(logging.INFO, logger="mcp_auth.issuer")
    form = {
        "client_assertion_type": JWT_BEARER_ASSERTION,
        "client_assertion": world.agent.assertion(),
    }
    if token is not None:
        form["token"] = token
    assert_error(world.http.post(endpoint, data=form), 400, "invalid_request")
    assert requirement_logged(caplog) == "MCPA-REV-014"
    response = world.http.post(endpoint, content=b"token=x", headers={"Content-Type": "text/plain"})
    assert_error(response, 400, "invalid_request")
    assert requirement_logged(caplog) == "MCPA-REV-014"


def test_token_endpoint_requirement_ids(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mcp_auth.issuer")
    subject = world.issue()
    world.agent.revoke(subject)
    form = world.tools[0].exchange_form(subject, TOOL_RESOURCES[1])
    response = world.http.post("/token", data=form, headers=world.tools[0].token_headers())
    assert_error(response, 400, "invalid_request")
    assert response.json()["mcpa_error"] == "subject_token_revoked"
    assert requirement_logged(caplog) == "MCPA-XCH-002"
    form = world.agent.issue_form(world.grant_id, TOOL_RESOURCES[0], MODEL)
    form["client_id"] = "someone-else"
    response = world.http.post("/token", data=form, headers=world.agent.token_headers())
    assert_error(response, 401, "invalid_client")
    assert requirement_logged(caplog) == "MCPA-CLA-009"


# -- Table 7-1: admin provisioning records grant.approved -------------------------------
def test_admin_provisioned_grant_records_created_and_approved(world: World) -> None:
    grant = world.admin_grant()
    types = [e["type"] for e in audit.events_for_grant(world.ctx.db, grant["grant_id"])]
    assert types == ["grant.created", "grant.approved"]
    assert grant["approved_at"] == grant["created_at"]


# -- MCPA-AUD-009: no revocation without its event -----------------------------------------
def _break_audit(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: object, **__: object) -> dict[str, Any]:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(audit, "append", broken)


def test_grant_revocation_without_durable_event_is_refused(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = world.http.get(world.status_path).text
    events = len(audit.all_events(world.ctx.db))
    _break_audit(monkeypatch)
    response = world.http.delete(f"/grants/{world.grant_id}", headers=world.admin)
    assert_error(response, 503, "temporarily_unavailable")
    monkeypatch.undo()
    grant = grants.get_grant(world.ctx.db, world.grant_id)
    assert grant is not None and grant.status == "active"  # not acknowledged, not applied
    assert len(audit.all_events(world.ctx.db)) == events
    assert world.issue()  # still usable; the client retries the revocation
    assert world.http.delete(f"/grants/{world.grant_id}", headers=world.admin).status_code == 204
    assert world.http.get(world.status_path).text != before


def test_token_revocation_without_durable_event_is_refused(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = world.issue()
    _break_audit(monkeypatch)
    form = {
        "token": token,
        "client_assertion_type": JWT_BEARER_ASSERTION,
        "client_assertion": world.agent.assertion(),
    }
    assert_error(world.http.post("/revoke", data=form), 503, "temporarily_unavailable")
    monkeypatch.undo()
    assert world.tools[0].introspect(token)["active"] is True
    world.agent.revoke(token)
    assert world.tools[0].introspect(token)["active"] is False
