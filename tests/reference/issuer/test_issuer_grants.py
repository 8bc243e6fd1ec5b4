"""The grant model: validation, the state machine, expiry, status indices."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_auth.reference.errors import InvalidRequest
from mcp_auth.reference.issuer import audit, grants
from mcp_auth.reference.issuer.settings import Settings
from mcp_auth.reference.issuer.storage import Database
from mcp_auth.schemas import validate

from .conftest import ISSUER, grant_request


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(tmp_path / "g.sqlite3")


SETTINGS = Settings(data_dir=Path("/nonexistent"), issuer_url=ISSUER)


@pytest.mark.parametrize(
    "start,action,end",
    [
        ("pending", "approve", "active"),
        ("pending", "deny", "denied"),
        ("pending", "revoke", "revoked"),
        ("active", "revoke", "revoked"),
        ("active", "approve", None),
        ("active", "deny", None),
        ("denied", "approve", None),
        ("denied", "revoke", None),
        ("revoked", "approve", None),
        ("revoked", "revoke", None),
    ],
)
def test_state_machine(db: Database, start: str, action: str, end: str | None) -> None:
    grant = grants.create_grant(db, grant_request(), active=start == "active")
    if start == "denied":
        grants.transition(db, grant.grant_id, "deny")
    elif start == "revoked":
        grants.transition(db, grant.grant_id, "revoke")
    after, changed = grants.transition(db, grant.grant_id, action)
    assert changed is (end is not None)
    assert after.status == (end or start)
    body = after.to_json(SETTINGS)
    validate("grant", body)
    assert ("approval_uri" in body) is (after.status == "pending")


def test_expiry_is_materialised_once_with_an_event(db: Database) -> None:
    grant = grants.create_grant(db, grant_request(expires_in=10), active=True, now=1_000)
    assert grants.get_grant(db, grant.grant_id, now=1_009).status == "active"
    assert grants.get_grant(db, grant.grant_id, now=1_010).status == "expired"
    assert grants.get_grant(db, grant.grant_id, now=1_020).status == "expired"
    types = [e["type"] for e in audit.events_for_grant(db, grant.grant_id)]
    assert types == ["grant.created", "grant.approved", "grant.expired"]
    assert grant.status_list_id is not None
    assert grant.status_idx in grants.invalid_indices(db, grant.status_list_id)
    _, changed = grants.transition(db, grant.grant_id, "revoke", now=1_030)
    assert not changed  # expired is final


def test_revoked_bit_never_cleared(db: Database) -> None:
    pending = grants.create_grant(db, grant_request(), active=False)
    grant, _ = grants.transition(db, pending.grant_id, "approve")
    assert grant.status_list_id is not None
    assert grant.status_idx not in grants.invalid_indices(db, grant.status_list_id)
    grants.transition(db, grant.grant_id, "revoke")
    assert grant.status_idx in grants.invalid_indices(db, grant.status_list_id)
    grants.transition(db, grant.grant_id, "approve")
    assert grants.get_grant(db, grant.grant_id).status == "revoked"


def test_pending_and_denied_grants_hold_no_status_entry(db: Database) -> None:
    """Regression (issue 14 finding 1): only approval assigns an entry (MCPA-REV-003)."""
    pending = grants.create_grant(db, grant_request(), active=False)
    assert pending.status_list_id is None and pending.status_idx is None
    assert "status_list" not in pending.to_json(SETTINGS)
    denied, _ = grants.transition(db, pending.grant_id, "deny")
    assert denied.status_list_id is None and "status_list" not in denied.to_json(SETTINGS)
    withdrawn = grants.create_grant(db, grant_request(), active=False)
    revoked, _ = grants.transition(db, withdrawn.grant_id, "revoke")
    assert revoked.status_list_id is None
    validate("grant", revoked.to_json(SETTINGS))
    approved, _ = grants.transition(
        db, grants.create_grant(db, grant_request(), active=False).grant_id, "approve"
    )
    assert approved.status_list_id is not None and approved.status_idx is not None
    assert approved.to_json(SETTINGS)["status_list"]["idx"] == approved.status_idx
    assert db.query_one("SELECT allocated FROM status_lists")[0] == 1


def test_defaults(db: Database) -> None:
    request = grants.validate_create(
        {
            "sub": "a",
            "resources": ["https://r.test/"],
            "scopes": ["s"],
            "tools": [],
            "models": ["m"],
        },
        SETTINGS,
        caller_client_id="agent",
    )
    assert (request.max_depth, request.max_token_lifetime) == (5, 300)
    assert request.expires_in == 30 * 24 * 3600 and request.client_id == "agent"
    grant = grants.create_grant(db, request, active=False, now=100)
    assert grant.expires_at == 100 + 30 * 24 * 3600


def test_admin_needs_client_id() -> None:
    with pytest.raises(InvalidRequest):
        grants.validate_create(
            {
                "sub": "a",
                "resources": ["https://r.test/"],
                "scopes": ["s"],
                "tools": [],
                "models": ["m"],
            },
            SETTINGS,
            caller_client_id=None,
        )


def test_unknown_grant_id_shapes(db: Database) -> None:
    assert grants.get_grant(db, "x" * 300) is None
    assert grants.get_grant(db, "nope") is None
    with pytest.raises(KeyError):
        grants.transition(db, "nope", "revoke")
