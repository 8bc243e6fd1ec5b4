"""Status list allocation across many lists, and retirement (MCPA-REV-003, 009, 015..018)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mcp_auth.reference.issuer import grants
from mcp_auth.reference.issuer.status_allocation import (
    StatusAllocator,
    allocator_for,
    configure,
    retire_due,
)
from mcp_auth.reference.issuer.storage import Database

from .conftest import grant_request

SIZE = 8
MARGIN = 360


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(tmp_path / "a.sqlite3")
    configure(database, SIZE, MARGIN)
    return database


def lists(db: Database) -> list[tuple[str, int, int, int | None]]:
    rows = db.query(
        "SELECT list_id, size, allocated, retired_at FROM status_lists ORDER BY created_at, rowid"
    )
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def test_tiny_lists_fill_in_turn_and_the_first_retires(db: Database) -> None:
    made = [
        grants.create_grant(db, grant_request(expires_in=100), active=True, now=1_000)
        for _ in range(SIZE)
    ]
    made += [
        grants.create_grant(db, grant_request(expires_in=10_000), active=True, now=1_200)
        for _ in range(2 * SIZE + 3)
    ]
    entries = [(g.status_list_id, g.status_idx) for g in made]
    assert len(set(entries)) == len(entries)  # no entry twice (MCPA-REV-003)
    held = lists(db)
    assert [(size, allocated) for _, size, allocated, _ in held] == [(8, 8), (8, 8), (8, 8), (8, 3)]
    for list_id, *_ in held:
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", list_id)  # 128 random bits (MCPA-REV-016)
        indices = sorted(g.status_idx for g in made if g.status_list_id == list_id)
        assert all(0 <= i < SIZE for i in indices) and len(set(indices)) == len(indices)
    first = held[0][0]
    assert {g.status_list_id for g in made[:SIZE]} == {first}
    # Not before its last grant expired plus the token lifetime and the skew ...
    with db.transaction() as conn:
        assert retire_due(conn, 1_100 + MARGIN - 1, MARGIN) == []
    # ... and then only the full list whose grants are all over (MCPA-REV-017).
    with db.transaction() as conn:
        assert retire_due(conn, 1_100 + MARGIN, MARGIN) == [first]
    assert [r[3] for r in lists(db)] == [1_100 + MARGIN, None, None, None]
    # A retired list never receives another entry.
    more = [grants.create_grant(db, grant_request(), active=True, now=3_000) for _ in range(6)]
    assert all(g.status_list_id != first for g in more)


def test_index_is_drawn_at_random_not_in_order(tmp_path: Path) -> None:
    """TSL -20 sections 12.4, 12.5: indices are not allocated sequentially (MCPA-REV-009)."""
    db = Database(tmp_path / "r.sqlite3")
    configure(db, 1 << 12, MARGIN)
    made = [grants.create_grant(db, grant_request(), active=True) for _ in range(64)]
    indices = [g.status_idx for g in made]
    assert len(set(indices)) == 64
    assert indices != sorted(indices)
    assert max(i for i in indices if i is not None) > 64


def test_pool_is_rebuilt_after_a_rolled_back_allocation(db: Database) -> None:
    grants.create_grant(db, grant_request(), active=True)
    allocator = allocator_for(db)
    with pytest.raises(RuntimeError), db.transaction() as conn:
        allocator.allocate(conn, expires_at=5, now=1)
        raise RuntimeError("roll back")
    made = [grants.create_grant(db, grant_request(), active=True) for _ in range(SIZE - 1)]
    first = lists(db)[0]
    assert first[2] == SIZE and {g.status_list_id for g in made} == {first[0]}


def test_two_allocators_on_one_database_never_collide(db: Database, tmp_path: Path) -> None:
    """Another process on the same data dir: the counter mismatch forces a rebuild."""
    other = StatusAllocator(SIZE, MARGIN)
    taken: set[tuple[str, int]] = set()
    for turn in range(3 * SIZE):
        allocator = other if turn % 2 else allocator_for(db)
        with db.transaction() as conn:
            list_id, idx = allocator.allocate(conn, expires_at=10, now=1)
            conn.execute(
                "INSERT INTO grants (grant_id, status, sub, client_id, resources, scopes, "
                "tools, models, max_depth, max_token_lifetime, created_at, expires_at, "
                "status_list_id, status_idx) VALUES (?, 'active', 'a', 'c', '[]', '[]', '[]', "
                "'[]', 2, 300, 1, 10, ?, ?)",
                (f"g{turn}", list_id, idx),
            )
        assert (list_id, idx) not in taken
        taken.add((list_id, idx))
