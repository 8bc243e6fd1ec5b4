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
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jsonschema.exceptions import best_match  # type: ignore[import-untyped,unused-ignore]

from mcp_auth.schemas import load, validator

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


class _SchemaCheck:
    """The audit-event schema, built once per run, with a cache for the repeated part.

    Validating an event with jsonschema costs hundreds of microseconds, but most of an event
    repeats (type, actor, act, resource, scope of a grant's tokens). The fields that are
    unique per event (``_STAND_INS``) are checked here against their own property schema
    (only ``type``, ``minLength``, ``maxLength``, ``minimum``, ``pattern``, ``format``) and
    replaced by a stand-in that is valid exactly when they are; the rest is validated by
    jsonschema once and the result kept in a bounded cache. An event with any stand-in field
    invalid, and every event when the schema's conditional part is not the one the stand-ins
    were chosen for (``_CONDITIONS_SHA256``), is validated whole by jsonschema.
    """

    def __init__(self) -> None:
        self.validator = validator("audit-event")
        schema = load("audit-event")
        self.checks: dict[str, Callable[[object], bool]] = {}
        fingerprint = hashlib.sha256(
            canonical_json([schema.get("allOf"), schema.get("required")])
        ).hexdigest()
        if fingerprint == _CONDITIONS_SHA256 and schema.get("additionalProperties") is False:
            for name in _STAND_INS:
                check = self._property_check(schema["properties"].get(name, {}))
                if check is None or not check(_stand_in(name, None)):
                    self.checks = {}
                    break
                self.checks[name] = check
        self.cache: dict[str, str | None] = {}  # bounded: _CACHE_SIZE

    def _property_check(self, sub: dict[str, Any]) -> Callable[[object], bool] | None:
        keys = set(sub) - {"description"}
        if not keys or keys - {"type", "minLength", "maxLength", "minimum", "pattern", "format"}:
            return None
        kind = sub.get("type")
        if kind not in ("string", "integer"):
            return None
        low, high = sub.get("minLength", 0), sub.get("maxLength")
        minimum = sub.get("minimum")
        pattern = re.compile(sub["pattern"]) if "pattern" in sub else None
        fmt = sub.get("format")
        formats = self.validator.format_checker

        if kind == "integer":
            return lambda value: type(value) is int and (minimum is None or value >= minimum)
        limit = high if high is not None else float("inf")
        if pattern is None and fmt is None:
            return lambda value: type(value) is str and low <= len(value) <= limit

        def check(value: object) -> bool:
            if type(value) is not str or not low <= len(value) <= limit:
                return False
            if pattern is not None and pattern.search(value) is None:
                return False
            return fmt is None or formats.conforms(value, fmt)

        return check

    def errors(self, event: object) -> str | None:
        """None when ``event`` is a valid audit event, else the path and message."""
        if not self.checks or not isinstance(event, dict):
            return self._full(event)
        rest: dict[str, Any] = {}
        marks: list[str] = []
        for name, value in event.items():
            check = self.checks.get(name)
            if check is None:
                rest[name] = value
            elif not check(value):
                return self._full(event)
            elif name in {"seq", "prev_hash"}:
                marks.append(f"{name}={_stand_in(name, value)}")
            else:
                marks.append(name)
        key = repr((rest, marks))  # equal keys hold equal values (of the same types)
        result = self.cache.get(key, False)
        if result is False:
            if len(self.cache) >= _CACHE_SIZE:
                self.cache.clear()
            reduced = {**rest, **{n: _stand_in(n, event[n]) for n in self.checks if n in event}}
            result = self.cache[key] = self._full(reduced)
        return None if result is None else self._full(event)

    def _full(self, event: object) -> str | None:
        error = best_match(self.validator.iter_errors(event))
        return None if error is None else f"{error.json_path}: {error.message}"


# Unique per event or per grant, and looked at by the conditions only for their presence,
# except what ``_stand_in`` keeps: seq 1 and the genesis ``prev_hash``. Review it when the
# schema's ``allOf``/``required`` change (the fingerprint below stops matching).
_STAND_INS = (
    "event_id",
    "seq",
    "time",
    "grant_id",
    "sub",
    "client_id",
    "token_jti",
    "parent_jti",
    "prev_hash",
    "hash",
)
_CONDITIONS_SHA256 = "8909143fae713099f9913520028867bf44626912650fec4a6febb23abaf7f5d1"
_CACHE_SIZE = 4096


def _stand_in(name: str, value: Any) -> Any:
    if name == "seq":
        return 1 if value == 1 else 2
    if name == "prev_hash":
        return value if value == GENESIS_HASH else "1" * 64
    if name == "hash":
        return "1" * 64
    if name == "time":
        return "2000-01-01T00:00:00.000Z"
    return "x"


def duplicate_event_ids(db: Database) -> frozenset[Any]:
    """The ``event_id`` values held by more than one record (found by SQLite, on disk)."""
    rows = db.query(
        "SELECT json_extract(event, '$.event_id') AS id FROM audit WHERE json_valid(event) "
        "GROUP BY id HAVING COUNT(*) > 1"
    )
    return frozenset(row["id"] for row in rows)


def verify_events(
    rows: Iterable[tuple[int, str, str]],
    *,
    duplicates: frozenset[Any] | None = None,
    progress: Callable[[int], None] | None = None,
    progress_every: int = 10000,
) -> ChainReport:
    """Check (row seq, event JSON, stored hash) triples in order, checks 1-5 of section 7.6.

    Streams: memory does not grow with the number of rows when ``duplicates`` (the
    ``event_id`` values that occur more than once, see :func:`duplicate_event_ids`) is
    given; without it every ``event_id`` is remembered. ``progress`` is called with the
    number of events checked every ``progress_every`` events.
    """
    schema = _SchemaCheck()
    prev = GENESIS_HASH
    seen: set[str] = set()
    position = 0
    for row_seq, text, stored_hash in rows:
        position += 1
        if progress is not None and position % progress_every == 0:
            progress(position - 1)

        def broken(check: int, reason: str, seq: int = row_seq, pos: int = position) -> ChainReport:
            return ChainReport(False, pos - 1, seq, pos, check, reason)

        try:
            event = json.loads(text)
        except ValueError:
            return broken(1, "record is not valid JSON")
        problem = schema.errors(event)
        if problem is not None:
            return broken(1, f"not a valid audit event ({problem})")
        if row_seq != position or event["seq"] != position:
            return broken(2, f"expected seq {position}")
        if event["prev_hash"] != prev:
            return broken(3, "prev_hash is not the previous event's hash")
        computed = event_hash(event)
        if event["hash"] != computed or stored_hash != computed:
            return broken(4, "hash does not match the record's content")
        event_id = event["event_id"]
        if duplicates is None or event_id in duplicates:
            if event_id in seen:
                return broken(5, "event_id occurred before")
            seen.add(event_id)
        prev = computed
    return ChainReport(
        True, position, head_seq=position or None, head_hash=prev if position else None
    )


def verify_chain(
    db: Database,
    *,
    batch_size: int = 1000,
    progress: Callable[[int], None] | None = None,
    progress_every: int = 10000,
) -> ChainReport:
    """Verify the whole log: names the first broken record, its position and the check.

    Reads the log ``batch_size`` rows at a time: memory stays flat whatever its length.
    """
    duplicates = duplicate_event_ids(db)
    rows = db.iter_query("SELECT seq, event, hash FROM audit ORDER BY seq", batch_size=batch_size)
    return verify_events(
        ((int(r["seq"]), str(r["event"]), str(r["hash"])) for r in rows),
        duplicates=duplicates,
        progress=progress,
        progress_every=progress_every,
    )
