"""SQLite storage: pragmas, migrations by version, transactions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mcp_auth.reference.issuer.storage import SCHEMA_VERSION, Database


def test_pragmas_and_version(tmp_path: Path) -> None:
    db = Database(tmp_path / "x.sqlite3")
    assert db.query_one("PRAGMA journal_mode")[0] == "wal"
    assert db.query_one("PRAGMA synchronous")[0] == 2  # FULL
    assert db.query_one("PRAGMA user_version")[0] == SCHEMA_VERSION
    assert (tmp_path / "x.sqlite3").stat().st_mode & 0o777 == 0o600
    db.close()
    again = Database(tmp_path / "x.sqlite3")  # migrations are idempotent
    assert again.query_one("PRAGMA user_version")[0] == SCHEMA_VERSION
    again.close()


def test_newer_schema_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer"):
        Database(path)


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    db = Database(tmp_path / "x.sqlite3")
    with pytest.raises(ValueError), db.transaction() as conn:
        conn.execute("INSERT INTO dpop_jtis (jti, exp) VALUES ('a', 1)")
        raise ValueError
    assert db.query("SELECT * FROM dpop_jtis") == []
    with db.transaction() as conn:
        conn.execute("INSERT INTO dpop_jtis (jti, exp) VALUES ('a', 1)")
    assert len(db.query("SELECT * FROM dpop_jtis")) == 1
    db.close()


def test_version_1_database_gains_client_name(tmp_path: Path) -> None:
    from mcp_auth.reference.issuer.storage import MIGRATIONS

    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0])
    conn.execute(
        "INSERT INTO clients (client_id, client_type, jwks, resource, source, created_at) "
        "VALUES ('a', 'agent', '{}', NULL, 'config', 1)"
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    db = Database(path)
    assert db.query_one("PRAGMA user_version")[0] == SCHEMA_VERSION
    row = db.query_one("SELECT client_id, client_name FROM clients")
    assert tuple(row) == ("a", None)
    db.close()


def test_version_2_database_keeps_its_list_and_releases_pending_indices(tmp_path: Path) -> None:
    """Migration 3: draft-00 data dirs keep list "1"; pending/denied grants lose their index."""
    from mcp_auth.reference.issuer import grants
    from mcp_auth.reference.issuer.storage import MIGRATIONS

    from .conftest import grant_request

    path = tmp_path / "v2.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0] + ";" + MIGRATIONS[1])
    for number, (status, idx) in enumerate(
        (("active", 77), ("pending", 5), ("denied", 6), ("revoked", 9000))
    ):
        conn.execute(
            "INSERT INTO grants (grant_id, status, sub, client_id, resources, scopes, tools, "
            "models, max_depth, max_token_lifetime, created_at, expires_at, status_idx) "
            "VALUES (?, ?, 'alice', 'agent', '[]', '[]', '[]', '[]', 2, 300, ?, ?, ?)",
            (f"g{number}", status, 10 + number, 1000 + number, idx),
        )
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    db = Database(path)
    assert db.query_one("PRAGMA user_version")[0] == SCHEMA_VERSION
    rows = {
        r[0]: (r[1], r[2])
        for r in db.query("SELECT grant_id, status_list_id, status_idx FROM grants")
    }
    assert rows == {"g0": ("1", 77), "g1": (None, None), "g2": (None, None), "g3": ("1", 9000)}
    lists = db.query("SELECT list_id, size, allocated, last_expires_at FROM status_lists")
    assert [tuple(r) for r in lists] == [("1", 131072, 131072, 1003)]  # closed
    made = grants.create_grant(db, grant_request(), active=True)
    assert made.status_list_id not in (None, "1")  # new entries: unguessable list ids
    db.close()
