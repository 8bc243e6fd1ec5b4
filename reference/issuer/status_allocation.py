"""Status list allocation across many lists (spec section 6.2, MCPA-REV-003, 009, 015..018).

A grant gets its entry ``(list_id, idx)`` when it becomes ``active`` (approval or admin
provisioning), never while ``pending``. Entries come from the oldest list that still has
free indices; when none has, a new list is opened with a random, unguessable ``list_id``
(128 bits, base64url) and the configured size. Within a list the index is drawn uniformly
at random from the indices never assigned in that list (TSL -20 sections 12.4, 12.5: no
sequential allocation), and an index is never assigned twice.

A full list is retired once every grant in it has expired, plus the maximum token lifetime
and the maximum clock skew (MCPA-REV-017): nothing that refers to it can still be accepted.
A retired list is no longer signed and its URI answers 404 ``not_found`` (MCPA-REV-018).

The free indices of each open list are kept in memory (a swap-remove pool, O(1) per draw)
and derived from the database: each pool remembers the list's ``allocated`` counter it
was built for, and is rebuilt whenever the stored counter differs (a rolled-back
transaction, another process writing the same data directory).
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import weakref
from array import array
from dataclasses import dataclass

from .settings import STATUS_LIST_BITS
from .storage import Database


@dataclass
class _Pool:
    allocated: int
    free: array[int]


class StatusAllocator:
    """Draws status list entries; one per data directory (see ``allocator_for``)."""

    def __init__(self, list_size: int = STATUS_LIST_BITS, retire_margin: int = 360) -> None:
        self.list_size = list_size
        self.retire_margin = retire_margin
        self._pools: dict[str, _Pool] = {}
        self._lock = threading.Lock()

    def _pool(self, conn: sqlite3.Connection, list_id: str, size: int, allocated: int) -> _Pool:
        pool = self._pools.get(list_id)
        if pool is None or pool.allocated != allocated:
            used = {
                int(row[0])
                for row in conn.execute(
                    "SELECT status_idx FROM grants WHERE status_list_id = ?", (list_id,)
                )
            }
            free = array("l", (i for i in range(size) if i not in used))
            pool = _Pool(size - len(free), free)
            self._pools[list_id] = pool
        return pool

    def _open_list(self, conn: sqlite3.Connection, now: int) -> tuple[str, int, int]:
        """The oldest list with a free index, or a new one: ``(list_id, size, allocated)``."""
        row = conn.execute(
            "SELECT list_id, size, allocated FROM status_lists WHERE retired_at IS NULL "
            "AND allocated < size ORDER BY created_at, list_id LIMIT 1"
        ).fetchone()
        if row is not None:
            return str(row[0]), int(row[1]), int(row[2])
        retire_due(conn, now, self.retire_margin)
        list_id = secrets.token_urlsafe(16)  # 128 bits: unguessable (MCPA-REV-016)
        conn.execute(
            "INSERT INTO status_lists (list_id, size, created_at) VALUES (?, ?, ?)",
            (list_id, self.list_size, now),
        )
        return list_id, self.list_size, 0

    def allocate(self, conn: sqlite3.Connection, *, expires_at: int, now: int) -> tuple[str, int]:
        """A fresh entry for a grant expiring at ``expires_at``, inside ``conn``'s transaction."""
        with self._lock:
            for _ in range(4):
                list_id, size, allocated = self._open_list(conn, now)
                pool = self._pool(conn, list_id, size, allocated)
                if not pool.free:
                    # The counter disagreed with the grants table: trust the table.
                    conn.execute(
                        "UPDATE status_lists SET allocated = ? WHERE list_id = ?",
                        (pool.allocated, list_id),
                    )
                    continue
                pick = secrets.randbelow(len(pool.free))  # uniform among free (MCPA-REV-009)
                idx = pool.free[pick]
                pool.free[pick] = pool.free[-1]
                pool.free.pop()
                pool.allocated += 1
                if not pool.free:
                    del self._pools[list_id]  # full: it never allocates again
                conn.execute(
                    "UPDATE status_lists SET allocated = ?, "
                    "last_expires_at = MAX(last_expires_at, ?) WHERE list_id = ?",
                    (pool.allocated, expires_at, list_id),
                )
                return list_id, int(idx)
        raise RuntimeError("no status list entry could be allocated")

    def forget(self) -> None:
        """Drop every pool (they are rebuilt from the database on next use)."""
        with self._lock:
            self._pools.clear()


def retire_due(conn: sqlite3.Connection, now: int, margin: int) -> list[str]:
    """Retire every full list whose grants all expired more than ``margin`` s ago."""
    rows = conn.execute(
        "SELECT list_id FROM status_lists WHERE retired_at IS NULL AND allocated >= size "
        "AND last_expires_at + ? <= ?",
        (margin, now),
    ).fetchall()
    retired = [str(row[0]) for row in rows]
    for list_id in retired:
        conn.execute("UPDATE status_lists SET retired_at = ? WHERE list_id = ?", (now, list_id))
    return retired


def bump_version(conn: sqlite3.Connection, list_id: str | None) -> None:
    """Record that a bit of ``list_id`` changed, so its signed token is rebuilt (MCPA-REV-019)."""
    if list_id is not None:
        conn.execute("UPDATE status_lists SET version = version + 1 WHERE list_id = ?", (list_id,))


_ALLOCATORS: weakref.WeakKeyDictionary[Database, StatusAllocator] = weakref.WeakKeyDictionary()


def configure(db: Database, list_size: int, retire_margin: int) -> StatusAllocator:
    """Set the allocator of a data directory (``create_app`` does it from the settings)."""
    allocator = StatusAllocator(list_size, retire_margin)
    _ALLOCATORS[db] = allocator
    return allocator


def allocator_for(db: Database) -> StatusAllocator:
    allocator = _ALLOCATORS.get(db)
    if allocator is None:
        allocator = _ALLOCATORS[db] = StatusAllocator()
    return allocator
