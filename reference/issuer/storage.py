"""SQLite storage: schema, migrations by version, one serialised connection.

WAL journal with ``synchronous=FULL``: a transaction is on disk when ``commit`` returns,
and every endpoint commits before it answers, so whatever the issuer acknowledged
survives ``kill -9`` (MCPA-AUD-004). One connection guarded by a lock keeps writes
serialised, which the hash-chained audit log needs anyway.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Each entry migrates the schema from version i to i + 1 (PRAGMA user_version).
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE users (
        name TEXT PRIMARY KEY,
        salt BLOB NOT NULL,
        hash BLOB NOT NULL,
        kdf TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE clients (
        client_id TEXT PRIMARY KEY,
        client_type TEXT NOT NULL CHECK (client_type IN ('agent', 'tool', 'resource')),
        jwks TEXT NOT NULL,
        resource TEXT UNIQUE,
        source TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE grants (
        grant_id TEXT PRIMARY KEY,
        status TEXT NOT NULL
            CHECK (status IN ('pending', 'active', 'denied', 'revoked', 'expired')),
        sub TEXT NOT NULL,
        client_id TEXT NOT NULL,
        resources TEXT NOT NULL,
        scopes TEXT NOT NULL,
        tools TEXT NOT NULL,
        models TEXT NOT NULL,
        max_depth INTEGER NOT NULL,
        max_token_lifetime INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        approved_at INTEGER,
        denied_at INTEGER,
        revoked_at INTEGER,
        purpose TEXT,
        status_idx INTEGER NOT NULL UNIQUE
    );
    CREATE INDEX grants_sub ON grants (sub);
    CREATE INDEX grants_client ON grants (client_id);
    CREATE TABLE tokens (
        jti TEXT PRIMARY KEY,
        parent_jti TEXT,
        grant_id TEXT NOT NULL,
        client_id TEXT NOT NULL,
        aud TEXT NOT NULL,
        iat INTEGER NOT NULL,
        exp INTEGER NOT NULL,
        revoked_at INTEGER
    );
    CREATE INDEX tokens_parent ON tokens (parent_jti);
    CREATE INDEX tokens_grant ON tokens (grant_id);
    CREATE TABLE assertion_jtis (
        client_id TEXT NOT NULL,
        jti TEXT NOT NULL,
        exp INTEGER NOT NULL,
        PRIMARY KEY (client_id, jti)
    );
    CREATE TABLE dpop_jtis (
        jti TEXT PRIMARY KEY,
        exp INTEGER NOT NULL
    );
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        grant_id TEXT,
        event TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE INDEX audit_grant ON audit (grant_id);
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        user TEXT NOT NULL,
        csrf TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    );
    """,
    # 2: an optional display name per client, shown on the consent page (MCPA-GRT-008).
    """
    ALTER TABLE clients ADD COLUMN client_name TEXT;
    """,
    # 3: plain-language names and descriptions of scopes and resources for the consent page.
    """
    CREATE TABLE descriptions (
        kind TEXT NOT NULL CHECK (kind IN ('scope', 'resource')),
        value TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT,
        PRIMARY KEY (kind, value)
    );
    """,
    # 4: many status lists (MCPA-REV-015..018); a grant gets its entry when it is approved
    # (MCPA-REV-003), so pending and denied grants hold none. draft-00's single list keeps
    # its id "1" and is closed to allocation (``allocated`` = its size: it retires like any
    # full list; new entries go to lists with unguessable ids); the indices of its pending
    # and denied grants are dropped, which is safe because no token ever carried them.
    """
    CREATE TABLE status_lists (
        list_id TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        allocated INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        last_expires_at INTEGER NOT NULL DEFAULT 0,
        version INTEGER NOT NULL DEFAULT 0,
        retired_at INTEGER
    );
    INSERT INTO status_lists (list_id, size, allocated, created_at, last_expires_at)
        SELECT '1', 131072, 131072, COALESCE(MIN(created_at), 0),
            COALESCE(MAX(expires_at), 0)
        FROM grants WHERE status NOT IN ('pending', 'denied') HAVING COUNT(*) > 0;
    CREATE TABLE grants_v3 (
        grant_id TEXT PRIMARY KEY,
        status TEXT NOT NULL
            CHECK (status IN ('pending', 'active', 'denied', 'revoked', 'expired')),
        sub TEXT NOT NULL,
        client_id TEXT NOT NULL,
        resources TEXT NOT NULL,
        scopes TEXT NOT NULL,
        tools TEXT NOT NULL,
        models TEXT NOT NULL,
        max_depth INTEGER NOT NULL,
        max_token_lifetime INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        approved_at INTEGER,
        denied_at INTEGER,
        revoked_at INTEGER,
        purpose TEXT,
        status_list_id TEXT,
        status_idx INTEGER,
        CHECK ((status_list_id IS NULL) = (status_idx IS NULL)),
        UNIQUE (status_list_id, status_idx)
    );
    INSERT INTO grants_v3
        SELECT grant_id, status, sub, client_id, resources, scopes, tools, models,
            max_depth, max_token_lifetime, created_at, expires_at, approved_at, denied_at,
            revoked_at, purpose,
            CASE WHEN status IN ('pending', 'denied') THEN NULL ELSE '1' END,
            CASE WHEN status IN ('pending', 'denied') THEN NULL ELSE status_idx END
        FROM grants;
    DROP TABLE grants;
    ALTER TABLE grants_v3 RENAME TO grants;
    CREATE INDEX grants_sub ON grants (sub, status);
    CREATE INDEX grants_client ON grants (client_id, status);
    CREATE INDEX grants_list ON grants (status_list_id, status)
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


class Database:
    """One SQLite connection shared by all threads, serialised by a re-entrant lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            str(path), check_same_thread=False, isolation_level=None, timeout=30.0
        )
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA busy_timeout=30000")
        self.migrate()
        path.chmod(0o600)

    @classmethod
    def open_read_only(cls, path: Path) -> Database:
        """Open an existing database for reading only: no migration, nothing written.

        ``mode=ro``; a copy in a read-only directory with no ``-wal`` file beside it (so
        nothing is waiting in a WAL) is opened ``immutable``, which needs no ``-shm`` file.
        ``sqlite3.Error`` when it cannot be read; check ``schema_version()`` before use.
        """
        self = cls.__new__(cls)
        self.path = path
        self._lock = threading.RLock()
        uri = f"{path.resolve().as_uri()}?mode=ro"
        self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=30.0)
        try:
            self._conn.execute("PRAGMA user_version").fetchone()
        except sqlite3.OperationalError:
            wal = path.with_name(path.name + "-wal")
            if wal.exists() or os.access(path.parent, os.W_OK):
                self._conn.close()
                raise
            self._conn.close()
            self._conn = sqlite3.connect(
                uri + "&immutable=1", uri=True, check_same_thread=False, timeout=30.0
            )
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA query_only=ON")
        return self

    def schema_version(self) -> int:
        with self._lock:
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        with self._lock:
            version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"database schema version {version} is newer than this issuer "
                    f"({SCHEMA_VERSION})"
                )
            for number in range(version, SCHEMA_VERSION):
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in MIGRATIONS[number].split(";"):
                        if statement.strip():
                            self._conn.execute(statement)
                    self._conn.execute(f"PRAGMA user_version = {number + 1}")
                    self._conn.execute("COMMIT")
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, committed (and fsynced) when the block exits normally."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            try:
                self._conn.execute("COMMIT")
            except BaseException:
                # SQLite may leave the transaction open after a failed COMMIT: end it, so
                # nothing unacknowledged stays visible and the next transaction can begin.
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._conn.execute(sql, params).fetchall())

    def iter_query(
        self, sql: str, params: tuple[Any, ...] = (), *, batch_size: int = 1000
    ) -> Iterator[sqlite3.Row]:
        """The rows of ``sql``, fetched ``batch_size`` at a time (memory flat in the result)."""
        with self._lock:
            cursor = self._conn.execute(sql, params)
        try:
            while True:
                with self._lock:
                    batch = cursor.fetchmany(batch_size)
                if not batch:
                    return
                yield from batch
        finally:
            cursor.close()

    def query_one(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self._conn.execute(sql, params).fetchone()
            return row

    def close(self) -> None:
        with self._lock:
            self._conn.close()
