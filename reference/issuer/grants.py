"""Grants: the consent records (CONTRACT.md section 3, MCPA-GRT-001..013).

A grant moves ``pending -> active | denied | revoked``, ``active -> revoked``, and either
to ``expired`` once ``expires_at`` passes; ``denied``, ``revoked`` and ``expired`` are
final (MCPA-REV-010). A grant gets its status list entry when it becomes ``active``
(``status_allocation``, MCPA-REV-003): pending and denied grants hold none, so creating
grants costs no scarce entry. Grants are never deleted, so an entry is never handed out
twice. Creation is bounded by the quotas of Appendix A (MCPA-GRT-026). Every change is
written with its audit event in one transaction.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidRequest, QuotaExceeded
from . import audit
from .clients import valid_resource_uri
from .settings import (
    GRANT_DEFAULT_EXPIRES_IN,
    GRANT_MAX_EXPIRES_IN,
    MAX_IDENTIFIER_CHARS,
    MAX_LIST_ITEMS,
    MAX_PURPOSE_CHARS,
    MAX_SCOPES,
    Settings,
)
from .status_allocation import allocator_for, bump_version
from .storage import Database

STATUSES = ("pending", "active", "denied", "revoked", "expired")
FINAL_STATUSES = frozenset({"denied", "revoked", "expired"})
# Statuses whose status-list bit is 1 (INVALID).
INVALID_STATUSES = FINAL_STATUSES
TRANSITIONS: dict[str, dict[str, str]] = {
    "approve": {"pending": "active"},
    "deny": {"pending": "denied"},
    "revoke": {"pending": "revoked", "active": "revoked"},
}
EVENT_FOR = {"active": "grant.approved", "denied": "grant.denied", "revoked": "grant.revoked"}

# RFC 6749 section 3.3 scope-token.
SCOPE_TOKEN_RE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,256}$")
CREATE_MEMBERS = frozenset(
    {
        "sub",
        "client_id",
        "resources",
        "scopes",
        "tools",
        "models",
        "max_depth",
        "max_token_lifetime",
        "expires_in",
        "purpose",
    }
)


@dataclass(frozen=True)
class Grant:
    grant_id: str
    status: str
    sub: str
    client_id: str
    resources: tuple[str, ...]
    scopes: tuple[str, ...]
    tools: tuple[str, ...]
    models: tuple[str, ...]
    max_depth: int
    max_token_lifetime: int
    created_at: int
    expires_at: int
    approved_at: int | None
    denied_at: int | None
    revoked_at: int | None
    purpose: str | None
    status_list_id: str | None  # None while pending, and for denied grants
    status_idx: int | None

    def to_json(self, settings: Settings) -> dict[str, Any]:
        """The grant object of the API (MCPA-GRT-001)."""
        body: dict[str, Any] = {
            "grant_id": self.grant_id,
            "status": self.status,
            "sub": self.sub,
            "client_id": self.client_id,
            "resources": list(self.resources),
            "scopes": list(self.scopes),
            "tools": list(self.tools),
            "models": list(self.models),
            "max_depth": self.max_depth,
            "max_token_lifetime": self.max_token_lifetime,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
        }
        if self.status_list_id is not None:
            body["status_list"] = {
                "uri": settings.status_list_uri(self.status_list_id),
                "idx": self.status_idx,
            }
        if self.approved_at is not None:
            body["approved_at"] = self.approved_at
        if self.revoked_at is not None:
            body["revoked_at"] = self.revoked_at
        if self.purpose is not None:
            body["purpose"] = self.purpose
        if self.status == "pending":
            body["approval_uri"] = approval_uri(settings, self.grant_id)
        return body


def approval_uri(settings: Settings, grant_id: str) -> str:
    return settings.url(f"/consent/grants/{grant_id}")


@dataclass(frozen=True)
class GrantRequest:
    """A validated ``POST /grants`` body."""

    sub: str
    client_id: str
    resources: tuple[str, ...]
    scopes: tuple[str, ...]
    tools: tuple[str, ...]
    models: tuple[str, ...]
    max_depth: int
    max_token_lifetime: int
    expires_in: int
    purpose: str | None


# -- validation (MCPA-GRT-009, MCPA-GRT-013) ----------------------------------------------
def _int(body: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidRequest(
            f"{name} must be an integer from {low} to {high}", requirement="MCPA-GRT-013"
        )
    return value


def _list(
    body: dict[str, Any], name: str, valid: Callable[[str], bool], low: int, high: int
) -> tuple[str, ...]:
    value = body.get(name)
    if not isinstance(value, list) or not low <= len(value) <= high:
        raise InvalidRequest(
            f"{name} must be an array of {low} to {high} strings", requirement="MCPA-GRT-013"
        )
    for item in value:
        if not isinstance(item, str):
            raise InvalidRequest(f"{name} must contain strings", requirement="MCPA-GRT-013")
        if not valid(item):
            raise InvalidRequest(f"{name} contains an invalid value", requirement="MCPA-GRT-013")
    if len(set(value)) != len(value):
        raise InvalidRequest(f"{name} contains duplicates", requirement="MCPA-GRT-013")
    return tuple(value)


def valid_identifier(value: object) -> bool:
    """A non-empty string of at most 256 printable characters (``sub``, tools, models)."""
    return isinstance(value, str) and 0 < len(value) <= MAX_IDENTIFIER_CHARS and value.isprintable()


def valid_scope_token(value: str) -> bool:
    return bool(SCOPE_TOKEN_RE.match(value))


def validate_create(
    body: object, settings: Settings, *, caller_client_id: str | None
) -> GrantRequest:
    """Validate a create body. ``caller_client_id`` is None for the admin token."""
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object", requirement="MCPA-GRT-013")
    unknown = set(body) - CREATE_MEMBERS
    if unknown:
        raise InvalidRequest(
            "the body has an unknown member",
            requirement="MCPA-GRT-013",
            detail=f"unknown members {sorted(unknown)[:5]!r}",
        )
    if not valid_identifier(body.get("sub")):
        raise InvalidRequest("sub must be a non-empty string", requirement="MCPA-GRT-013")
    client_id = body.get("client_id")
    if caller_client_id is None:
        if not valid_identifier(client_id):
            raise InvalidRequest(
                "client_id is required with the admin token", requirement="MCPA-GRT-013"
            )
    else:
        if client_id is not None and client_id != caller_client_id:
            raise InvalidRequest(
                "client_id must be the authenticated client", requirement="MCPA-GRT-013"
            )
        client_id = caller_client_id
    purpose = body.get("purpose")
    if purpose is not None and (
        not isinstance(purpose, str) or not 0 < len(purpose) <= MAX_PURPOSE_CHARS
    ):
        raise InvalidRequest(
            "purpose must be a string of at most 1024 characters", requirement="MCPA-GRT-013"
        )
    return GrantRequest(
        sub=str(body["sub"]),
        client_id=str(client_id),
        resources=_list(body, "resources", valid_resource_uri, 1, MAX_LIST_ITEMS),
        scopes=_list(body, "scopes", valid_scope_token, 1, MAX_SCOPES),
        tools=_list(body, "tools", valid_identifier, 0, MAX_LIST_ITEMS),
        models=_list(body, "models", valid_identifier, 1, MAX_LIST_ITEMS),
        max_depth=_int(body, "max_depth", settings.max_chain_depth, 1, settings.max_chain_depth),
        max_token_lifetime=_int(
            body,
            "max_token_lifetime",
            settings.max_token_lifetime,
            1,
            settings.max_token_lifetime,
        ),
        expires_in=_int(body, "expires_in", GRANT_DEFAULT_EXPIRES_IN, 1, GRANT_MAX_EXPIRES_IN),
        purpose=purpose,
    )


# -- storage ------------------------------------------------------------------------------
def _from_row(row: sqlite3.Row) -> Grant:
    return Grant(
        grant_id=row["grant_id"],
        status=row["status"],
        sub=row["sub"],
        client_id=row["client_id"],
        resources=tuple(json.loads(row["resources"])),
        scopes=tuple(json.loads(row["scopes"])),
        tools=tuple(json.loads(row["tools"])),
        models=tuple(json.loads(row["models"])),
        max_depth=row["max_depth"],
        max_token_lifetime=row["max_token_lifetime"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        approved_at=row["approved_at"],
        denied_at=row["denied_at"],
        revoked_at=row["revoked_at"],
        purpose=row["purpose"],
        status_list_id=row["status_list_id"],
        status_idx=row["status_idx"],
    )


def _count(conn: sqlite3.Connection, column: str, value: str, status: str, now: int) -> int:
    row = conn.execute(
        f"SELECT COUNT(*) FROM grants WHERE {column} = ? AND status = ? AND expires_at > ?",  # noqa: S608
        (value, status, now),
    ).fetchone()
    return int(row[0])


def check_quotas(
    conn: sqlite3.Connection, request: GrantRequest, settings: Settings, *, active: bool, now: int
) -> None:
    """Refuse a creation that would exceed a grant quota (Appendix A, MCPA-GRT-026).

    Grants whose ``expires_at`` has passed count for nothing, recorded or not.
    """
    limits: list[tuple[str, str, str, str, int]] = [
        ("live_per_client", "client_id", request.client_id, "active",
         settings.live_grants_per_client),
    ]  # fmt: skip
    if not active:
        limits += [
            ("pending_per_client", "client_id", request.client_id, "pending",
             settings.pending_grants_per_client),
            ("pending_per_user", "sub", request.sub, "pending",
             settings.pending_grants_per_user),
        ]  # fmt: skip
    for quota, column, value, status, limit in limits:
        if _count(conn, column, value, status, now) >= limit:
            raise QuotaExceeded(
                f"grant quota {quota} ({limit}) is reached", quota=quota, requirement="MCPA-GRT-026"
            )


def _assign_entry(
    conn: sqlite3.Connection, db: Database, grant_id: str, expires_at: int, now: int
) -> None:
    """Give an activated grant its status list entry (MCPA-REV-003, MCPA-REV-009)."""
    allocator = allocator_for(db)
    try:
        list_id, idx = allocator.allocate(conn, expires_at=expires_at, now=now)
        conn.execute(
            "UPDATE grants SET status_list_id = ?, status_idx = ? WHERE grant_id = ?",
            (list_id, idx, grant_id),
        )
    except BaseException:
        allocator.forget()  # the transaction is rolled back: rebuild the pools from it
        raise


def create_grant(
    db: Database,
    request: GrantRequest,
    *,
    active: bool,
    now: int | None = None,
    settings: Settings | None = None,
) -> Grant:
    """Store a new grant: ``pending`` for clients, ``active`` for admin provisioning.

    With ``settings`` the quotas of Appendix A are enforced (the grants API passes them).
    """
    moment = int(time.time()) if now is None else now
    with db.transaction() as conn:
        return insert_grant(conn, db, request, active=active, now=moment, settings=settings)


def insert_grant(
    conn: sqlite3.Connection,
    db: Database,
    request: GrantRequest,
    *,
    active: bool,
    now: int,
    settings: Settings | None = None,
) -> Grant:
    """``create_grant`` inside the caller's transaction (also used by the benchmark)."""
    moment = now
    grant_id = secrets.token_urlsafe(24)  # 192 bits (MCPA-GRT-002)
    status = "active" if active else "pending"
    if settings is not None:
        check_quotas(conn, request, settings, active=active, now=moment)
    conn.execute(
        "INSERT INTO grants (grant_id, status, sub, client_id, resources, scopes, tools, "
        "models, max_depth, max_token_lifetime, created_at, expires_at, approved_at, "
        "purpose) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            grant_id,
            status,
            request.sub,
            request.client_id,
            json.dumps(list(request.resources)),
            json.dumps(list(request.scopes)),
            json.dumps(list(request.tools)),
            json.dumps(list(request.models)),
            request.max_depth,
            request.max_token_lifetime,
            moment,
            moment + request.expires_in,
            moment if active else None,
            request.purpose,
        ),
    )
    if active:
        _assign_entry(conn, db, grant_id, moment + request.expires_in, moment)
    # Admin provisioning is the administrator's act; a pending grant is the client's.
    actor = audit.admin_actor() if active else audit.client_actor(request.client_id)
    for event in ("grant.created", "grant.approved") if active else ("grant.created",):
        audit.append(
            conn,
            event,
            grant_id=grant_id,
            sub=request.sub,
            client_id=request.client_id,
            actor=actor,
        )
    row = conn.execute("SELECT * FROM grants WHERE grant_id = ?", (grant_id,)).fetchone()
    return _from_row(row)


def _expire_due(conn: sqlite3.Connection, now: int, grant_id: str | None = None) -> None:
    sql = "SELECT grant_id, sub, client_id, status_list_id FROM grants "
    sql += "WHERE status IN ('pending', 'active') AND expires_at <= ?"
    params: tuple[Any, ...] = (now,)
    if grant_id is not None:
        sql += " AND grant_id = ?"
        params = (now, grant_id)
    for row in conn.execute(sql, params).fetchall():
        conn.execute("UPDATE grants SET status = 'expired' WHERE grant_id = ?", (row[0],))
        bump_version(conn, row[3])
        audit.append(
            conn,
            "grant.expired",
            grant_id=row[0],
            sub=row[1],
            client_id=row[2],
            actor=audit.issuer_actor(),
        )


def expire_due(db: Database, now: int | None = None, grant_id: str | None = None) -> None:
    """Move grants past ``expires_at`` to ``expired`` (MCPA-GRT-010), with audit events."""
    moment = int(time.time()) if now is None else now
    sql = "SELECT 1 FROM grants WHERE status IN ('pending', 'active') AND expires_at <= ?"
    params: tuple[Any, ...] = (moment,)
    if grant_id is not None:
        sql += " AND grant_id = ?"
        params = (moment, grant_id)
    if db.query_one(sql, params) is None:
        return
    with db.transaction() as conn:
        _expire_due(conn, moment, grant_id)


def get_grant(db: Database, grant_id: str, now: int | None = None) -> Grant | None:
    if not isinstance(grant_id, str) or len(grant_id) > MAX_IDENTIFIER_CHARS:
        return None
    expire_due(db, now, grant_id)
    row = db.query_one("SELECT * FROM grants WHERE grant_id = ?", (grant_id,))
    return None if row is None else _from_row(row)


def list_grants(
    db: Database,
    *,
    client_id: str | None = None,
    sub: str | None = None,
    status: str | None = None,
    now: int | None = None,
) -> list[Grant]:
    expire_due(db, now)
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (("client_id", client_id), ("sub", sub), ("status", status)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    rows = db.query(f"SELECT * FROM grants{where} ORDER BY created_at, grant_id", tuple(params))  # noqa: S608
    return [_from_row(row) for row in rows]


def transition(
    db: Database,
    grant_id: str,
    action: str,
    now: int | None = None,
    *,
    actor: dict[str, str] | None = None,
    allowed_from: tuple[str, ...] | None = None,
) -> tuple[Grant, bool]:
    """Apply ``approve``/``deny``/``revoke``. Returns (grant after, whether it changed).

    An action not allowed from the current status changes nothing (idempotent revoke).
    ``actor`` is who decided (the audit event's ``actor``, MCPA-AUD-011): the consent page
    passes the user, the grants API the client or the admin; operator tools that pass
    nothing act as the administrator. ``allowed_from`` narrows the statuses the action
    applies to (the consent page revokes only active grants; pending ones are denied).
    """
    moment = int(time.time()) if now is None else now
    with db.transaction() as conn:
        return apply_transition(
            conn, db, grant_id, action, moment, actor=actor, allowed_from=allowed_from
        )


def apply_transition(
    conn: sqlite3.Connection,
    db: Database,
    grant_id: str,
    action: str,
    now: int,
    *,
    actor: dict[str, str] | None = None,
    allowed_from: tuple[str, ...] | None = None,
) -> tuple[Grant, bool]:
    """``transition`` inside the caller's transaction (also used by the benchmark)."""
    moment = now
    allowed = TRANSITIONS[action]
    _expire_due(conn, moment, grant_id)
    row = conn.execute("SELECT * FROM grants WHERE grant_id = ?", (grant_id,)).fetchone()
    if row is None:
        raise KeyError(grant_id)
    grant = _from_row(row)
    target = allowed.get(grant.status)
    if target is None or (allowed_from is not None and grant.status not in allowed_from):
        return grant, False
    column = {"active": "approved_at", "denied": "denied_at", "revoked": "revoked_at"}[target]
    conn.execute(
        f"UPDATE grants SET status = ?, {column} = ? WHERE grant_id = ?",  # noqa: S608
        (target, moment, grant_id),
    )
    if target == "active":
        _assign_entry(conn, db, grant_id, grant.expires_at, moment)
    elif target == "revoked":
        bump_version(conn, grant.status_list_id)
    audit.append(
        conn,
        EVENT_FOR[target],
        grant_id=grant_id,
        sub=grant.sub,
        client_id=grant.client_id,
        actor=actor or audit.admin_actor(),
    )
    row = conn.execute("SELECT * FROM grants WHERE grant_id = ?", (grant_id,)).fetchone()
    return _from_row(row), True


def invalid_indices(db: Database, list_id: str) -> list[int]:
    """Indices of ``list_id`` whose bit is 1: grants that can never be used again."""
    rows = db.query(
        "SELECT status_idx FROM grants WHERE status_list_id = ? "
        "AND status IN ('revoked', 'expired')",
        (list_id,),
    )
    return [int(row[0]) for row in rows]
