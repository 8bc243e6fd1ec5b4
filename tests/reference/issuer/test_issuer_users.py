"""Local users: scrypt with per-user salt."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_auth.reference.issuer.storage import Database
from mcp_auth.reference.issuer.users import UserError, add_user, check_password


def test_passwords(tmp_path: Path) -> None:
    db = Database(tmp_path / "u.sqlite3")
    add_user(db, "alice", "s3cret-pass")
    add_user(db, "bob", "s3cret-pass")
    assert check_password(db, "alice", "s3cret-pass")
    assert not check_password(db, "alice", "s3cret-pasS")
    assert not check_password(db, "carol", "s3cret-pass")
    rows = db.query("SELECT salt, hash FROM users")
    assert rows[0]["salt"] != rows[1]["salt"] and rows[0]["hash"] != rows[1]["hash"]
    assert b"s3cret" not in bytes(rows[0]["hash"])
    add_user(db, "alice", "another-pass")
    assert check_password(db, "alice", "another-pass")
    assert not check_password(db, "alice", "s3cret-pass")


@pytest.mark.parametrize(
    "name,password",
    [("", "longenough"), ("a b", "longenough"), ("<x>", "longenough"), ("alice", "short")],
)
def test_rejected(tmp_path: Path, name: str, password: str) -> None:
    with pytest.raises(UserError):
        add_user(Database(tmp_path / "u.sqlite3"), name, password)
