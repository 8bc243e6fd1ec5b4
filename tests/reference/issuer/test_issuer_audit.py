"""The hash-chained audit log and verify_chain()."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

import pytest

from mcp_auth.reference.issuer import audit
from mcp_auth.reference.issuer.storage import Database
from mcp_auth.schemas import validate


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(tmp_path / "a.sqlite3")


def fill(db: Database, n: int = 5) -> list[dict]:
    events = []
    with db.transaction() as conn:
        for i in range(n):
            events.append(
                audit.append(
                    conn,
                    "token.issued",
                    grant_id="g",
                    sub="ünï",
                    client_id="c",
                    token_jti=f"j{i}",
                    scope="a b",
                    resource="https://r.test/",
                    act={"actor_type": "agent", "sub": "c", "mcpa_model": "m"},
                )
            )
    return events


def test_genesis_and_links(db: Database) -> None:
    events = fill(db)
    assert events[0]["prev_hash"] == "0" * 64 and events[0]["seq"] == 1
    for prev, event in itertools.pairwise(events):
        assert event["prev_hash"] == prev["hash"] and event["seq"] == prev["seq"] + 1
    for event in events:
        validate("audit-event", event)
        assert event["time"].endswith("Z") and len(event["time"]) == 24


def test_hash_is_contract_canonical_json(db: Database) -> None:
    event = fill(db, 1)[0]
    body = {k: v for k, v in event.items() if k != "hash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert "ünï" in text
    assert event["hash"] == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_verify_ok(db: Database) -> None:
    fill(db)
    report = audit.verify_chain(db)
    assert report.ok and report.checked == 5
    assert report.head_seq == 5 and report.head_hash == audit.all_events(db)[-1]["hash"]


def tamper(db: Database, seq: int, change: dict) -> None:
    row = db.query_one("SELECT event FROM audit WHERE seq = ?", (seq,))
    event = {**json.loads(row["event"]), **change}
    with db.transaction() as conn:
        conn.execute("UPDATE audit SET event = ? WHERE seq = ?", (json.dumps(event), seq))


def test_content_change_names_record(db: Database) -> None:
    fill(db)
    tamper(db, 3, {"client_id": "mallory"})
    report = audit.verify_chain(db)
    assert not report.ok and report.broken_seq == 3 and report.checked == 2
    assert report.check == 4 and report.position == 3


def test_rehashed_record_breaks_next_link(db: Database) -> None:
    fill(db)
    row = db.query_one("SELECT event FROM audit WHERE seq = 2")
    event = json.loads(row["event"])
    event["scope"] = "everything"
    event["hash"] = audit.event_hash(event)
    with db.transaction() as conn:
        conn.execute(
            "UPDATE audit SET event = ?, hash = ? WHERE seq = 2", (json.dumps(event), event["hash"])
        )
    report = audit.verify_chain(db)
    assert report.broken_seq == 3 and report.check == 3


def test_deleted_record(db: Database) -> None:
    fill(db)
    with db.transaction() as conn:
        conn.execute("DELETE FROM audit WHERE seq = 4")
    report = audit.verify_chain(db)
    assert report.broken_seq == 5 and report.position == 4 and report.check == 2


def test_garbage_record(db: Database) -> None:
    fill(db)
    with db.transaction() as conn:
        conn.execute("UPDATE audit SET event = 'not json' WHERE seq = 1")
    report = audit.verify_chain(db)
    assert report.broken_seq == 1 and report.check == 1


def test_schema_violation_is_check_1(db: Database) -> None:
    fill(db)
    tamper(db, 2, {"password": "x"})
    report = audit.verify_chain(db)
    assert report.broken_seq == 2 and report.check == 1


def test_duplicate_event_id_is_check_5(db: Database) -> None:
    fill(db, 2)
    first = json.loads(db.query_one("SELECT event FROM audit WHERE seq = 1")["event"])
    event = json.loads(db.query_one("SELECT event FROM audit WHERE seq = 2")["event"])
    event["event_id"] = first["event_id"]
    event["hash"] = audit.event_hash(event)
    with db.transaction() as conn:
        conn.execute(
            "UPDATE audit SET event = ?, hash = ? WHERE seq = 2", (json.dumps(event), event["hash"])
        )
    report = audit.verify_chain(db)
    assert report.broken_seq == 2 and report.check == 5


def test_unknown_type_and_field_refused(db: Database) -> None:
    with db.transaction() as conn:
        with pytest.raises(ValueError):
            audit.append(conn, "token.stolen")
        with pytest.raises(ValueError):
            audit.append(conn, "token.issued", access_token="x")
