"""The hash-chained, append-only audit log (CONTRACT.md section 5, MCPA-AUD-001..007).

Events are appended inside the same SQLite transaction as the state change they record,
so an acknowledged change and its event are durable together (MCPA-AUD-004). Only token
``jti`` values are ever recorded, never tokens or secrets (MCPA-AUD-006).

Every event names its ``actor`` (MCPA-AUD-011): the user for decisions on the consent
page, the administrator for admin provisioning and admin API calls, the client for token
events and its own grant requests, the issuer itself for expiry.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mcp_auth.schemas import SchemaValidationError, validate

from .storage import Database

GENESIS_HASH = "0" * 64

EVENT_TYPES = frozenset(
    {
        "grant.created",
        "grant.approved",
        "grant.denied",
        "grant.revoked",
        "grant.expired",
        "token.issued",
        "token.exchanged",
        "token.refused",
        "token.revoked",
    }
)

ACTOR_TYPES = ("user", "admin", "client", "issuer")

OPTIONAL_FIELDS = (
    "actor",
    "grant_id",
    "sub",
    "client_id",
    "act",
    "token_jti",
    "parent_jti",
    "resource",
    "scope",
    "error",
    "error_description",
)


def user_actor(name: str) -> dict[str, str]:
    """The signed-in user who approved, denied or revoked on the consent page."""
    return {"type": "user", "id": name}


def client_actor(client_id: str) -> dict[str, str]:
    """The authenticated client that made the request."""
    return {"type": "client", "id": client_id}


def admin_actor() -> dict[str, str]:
    """The holder of the admin token (the reference has one, so no ``id``)."""
    return {"type": "admin"}


def issuer_actor() -> dict[str, str]:
    """The issuer itself, for what happens by time alone (``grant.expired``)."""
    return {"type": "issuer"}


def canonical_json(value: Any) -> bytes:
    """Keys sorted, no whitespace, non-ASCII kept: RFC 8785 for a float-free value space."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def event_hash(event: dict[str, Any]) -> str:
    """Lowercase hex SHA-256 of the canonical JSON of the event without ``hash``."""
    body = {key: value for key, value in event.items() if key != "hash"}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def rfc3339_ms(now: float) -> str:
    stamp = datetime.fromtimestamp(now, tz=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def append(
    conn: sqlite3.Connection, event_type: str, *, now: float | None = None, **fields: Any
) -> dict[str, Any]:
    """Append one event; call inside ``Database.transaction()``. Returns the stored event.

    ``actor`` is required for grant events; token events default to the client.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown audit event type {event_type!r}")
    unknown = set(fields) - set(OPTIONAL_FIELDS)
    if unknown:
        raise ValueError(f"unknown audit fields {sorted(unknown)}")
    if fields.get("actor") is None and event_type.startswith("token.") and fields.get("client_id"):
        fields["actor"] = client_actor(str(fields["client_id"]))
    actor = fields.get("actor")
    if not isinstance(actor, dict) or actor.get("type") not in ACTOR_TYPES:
        raise ValueError(f"audit event {event_type!r} needs an actor")
    last = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    seq = 1 if last is None else int(last["seq"]) + 1
    prev_hash = GENESIS_HASH if last is None else str(last["hash"])
    event: dict[str, Any] = {
        "event_id": secrets.token_urlsafe(16),
        "seq": seq,
        "time": rfc3339_ms(time.time() if now is None else now),
        "type": event_type,
    }
    for name in OPTIONAL_FIELDS:
        value = fields.get(name)
        if value is not None:
            event[name] = value
    event["prev_hash"] = prev_hash
    event["hash"] = event_hash(event)
    conn.execute(
        "INSERT INTO audit (seq, grant_id, event, hash) VALUES (?, ?, ?, ?)",
        (seq, event.get("grant_id"), canonical_json(event).decode("utf-8"), event["hash"]),
    )
    return event


def events_for_grant(db: Database, grant_id: str) -> list[dict[str, Any]]:
    rows = db.query("SELECT event FROM audit WHERE grant_id = ? ORDER BY seq", (grant_id,))
    return [json.loads(row["event"]) for row in rows]


def all_events(db: Database) -> list[dict[str, Any]]:
    return [json.loads(row["event"]) for row in db.query("SELECT event FROM audit ORDER BY seq")]


@dataclass(frozen=True)
class ChainReport:
    """Result of :func:`verify_chain` (MCPA-AUD-007).

    ``ok`` and ``checked`` (events that passed). On failure: ``position`` (1-based index in
    the sequence), ``broken_seq`` (the record's ``seq``), ``check`` (1 schema, 2 seq,
    3 prev_hash, 4 hash, 5 duplicate event_id) and ``reason``. On success: ``head_seq``
    and ``head_hash`` of the last event (the value to publish, MCPA-AUD-010).
    """

    ok: bool
    checked: int
    broken_seq: int | None = None
    position: int | None = None
    check: int | None = None
    reason: str | None = None
    head_seq: int | None = None
    head_hash: str | None = None


def _schema_errors(event: object) -> str | None:
    try:
        validate("audit-event", event)
    except SchemaValidationError as exc:
        return f"{exc.path}: {exc.message}"
    return None


def verify_events(rows: list[tuple[int, str, str]]) -> ChainReport:
    """Check (row seq, event JSON, stored hash) triples in order, checks 1-5 of section 7.6."""
    prev = GENESIS_HASH
    seen: set[str] = set()
    last_hash: str | None = None
    for index, (row_seq, text, stored_hash) in enumerate(rows):
        position = index + 1

        def broken(check: int, reason: str, seq: int = row_seq, pos: int = position) -> ChainReport:
            return ChainReport(False, pos - 1, seq, pos, check, reason)

        try:
            event = json.loads(text)
        except ValueError:
            return broken(1, "record is not valid JSON")
        problem = _schema_errors(event)
        if problem is not None:
            return broken(1, f"not a valid audit event ({problem})")
        if row_seq != position or event["seq"] != position:
            return broken(2, f"expected seq {position}")
        if event["prev_hash"] != prev:
            return broken(3, "prev_hash is not the previous event's hash")
        computed = event_hash(event)
        if event["hash"] != computed or stored_hash != computed:
            return broken(4, "hash does not match the record's content")
        if event["event_id"] in seen:
            return broken(5, "event_id occurred before")
        seen.add(event["event_id"])
        prev = last_hash = computed
    return ChainReport(True, len(rows), head_seq=len(rows) or None, head_hash=last_hash)


def verify_chain(db: Database) -> ChainReport:
    """Verify the whole log: names the first broken record, its position and the check."""
    rows = db.query("SELECT seq, event, hash FROM audit ORDER BY seq")
    return verify_events([(int(r["seq"]), str(r["event"]), str(r["hash"])) for r in rows])
