"""``audit verify`` streaming, read-only and exit codes (issue 16; issue 14 finding 7)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mcp_auth.cli import main
from mcp_auth.reference.issuer import audit
from mcp_auth.reference.issuer.storage import Database
from mcp_auth.schemas import validator


def fill(db: Database, n: int) -> None:
    with db.transaction() as conn:
        for i in range(n):
            audit.append(
                conn,
                "token.issued",
                grant_id="g",
                sub="alice",
                client_id="c",
                token_jti=f"j{i}",
                scope="a b",
                resource="https://r.test/",
                act={"actor_type": "agent", "sub": "c", "mcpa_model": "m"},
            )


@pytest.fixture
def data(tmp_path: Path) -> Iterator[Path]:
    """A data directory holding only a closed issuer database with 12 events."""
    d = tmp_path / "data"
    db = Database(d / "issuer.sqlite3")
    fill(db, 12)
    db.close()
    yield d
    for path in (d, *d.iterdir()):
        path.chmod(0o700)


def test_read_only_copy_verifies(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(data / "issuer.sqlite3", copy / "issuer.sqlite3")
    (copy / "issuer.sqlite3").chmod(0o444)
    before = (copy / "issuer.sqlite3").read_bytes()
    copy.chmod(0o555)
    try:
        assert main(["audit", "verify", "--data-dir", str(copy)]) == 0
        # Nothing written, not even the mode (root can write here: the test checks that too).
        assert (copy / "issuer.sqlite3").stat().st_mode & 0o777 == 0o444
        assert (copy / "issuer.sqlite3").read_bytes() == before
        if os.geteuid() != 0:
            assert sorted(p.name for p in copy.iterdir()) == ["issuer.sqlite3"]
    finally:
        copy.chmod(0o755)
    out = capsys.readouterr().out
    assert "audit chain OK: 12 events" in out and "head: seq=12" in out


def test_read_only_file_beside_its_wal(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = Database(data / "issuer.sqlite3")  # left open: the -wal and -shm files stay
    try:
        fill(db, 1)
        for path in data.iterdir():
            path.chmod(0o444)
        data.chmod(0o555)
        assert main(["audit", "verify", "--data-dir", str(data)]) == 0
    finally:
        data.chmod(0o755)
        db.close()
    assert "audit chain OK: 13 events" in capsys.readouterr().out


def test_tampered_row_exits_1_naming_it(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conn = sqlite3.connect(data / "issuer.sqlite3")
    with conn:
        conn.execute("UPDATE audit SET event = replace(event, 'alice', 'mallory') WHERE seq = 7")
    conn.close()
    assert main(["audit", "verify", "--data-dir", str(data)]) == 1
    out = capsys.readouterr().out
    assert "BROKEN at record seq=7 (position 7, check 4)" in out
    assert "6 events before it verified" in out


def test_not_a_database_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "issuer.sqlite3").write_text("not a database\n" * 100)
    assert main(["audit", "verify", "--data-dir", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "not a database" in captured.err


def test_database_without_audit_table_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sqlite3.connect(tmp_path / "issuer.sqlite3").execute("CREATE TABLE t (x)").connection.close()
    assert main(["audit", "verify", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "schema version 0, older" in err and "no such table" in err


def test_missing_data_dir_still_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify", "--data-dir", str(tmp_path / "nope")]) == 2
    assert "no issuer data directory" in capsys.readouterr().err
    assert not (tmp_path / "nope").exists()


def test_progress_on_request(
    data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    original = audit.verify_events

    def spy(rows: object, **kwargs: object) -> audit.ChainReport:
        calls.append(1 if kwargs.get("progress") else 0)
        return original(rows, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(audit, "verify_events", spy)
    assert main(["audit", "verify", "--data-dir", str(data), "--progress"]) == 0
    assert main(["audit", "verify", "--data-dir", str(data)]) == 0
    assert calls == [1, 0]  # stderr is captured, not a terminal: no progress unless asked
    assert capsys.readouterr().out.endswith("\n")


def test_streams_batch_by_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = Database(tmp_path / "a.sqlite3")
    fill(db, 25)
    fetched: list[int] = []
    original = Database.iter_query

    def counting(self: Database, sql: str, params: tuple = (), *, batch_size: int = 1000):  # type: ignore[no-untyped-def]
        for row in original(self, sql, params, batch_size=batch_size):
            fetched.append(row["seq"])
            yield row

    queried: list[str] = []
    plain = Database.query

    def no_full_read(self: Database, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        queried.append(sql)
        return plain(self, sql, params)

    monkeypatch.setattr(Database, "iter_query", counting)
    monkeypatch.setattr(Database, "query", no_full_read)
    seen: list[int] = []
    report = audit.verify_chain(db, batch_size=4, progress=seen.append, progress_every=10)
    assert report.ok and report.checked == 25 and fetched == list(range(1, 26))
    assert seen == [9, 19]
    assert not any("SELECT seq, event" in sql for sql in queried)  # never every row at once
    db.close()


def test_cursor_is_read_in_batches(tmp_path: Path) -> None:
    db = Database(tmp_path / "a.sqlite3")
    fill(db, 10)
    rows = db.iter_query("SELECT seq FROM audit ORDER BY seq", batch_size=3)
    assert [next(rows)["seq"] for _ in range(4)] == [1, 2, 3, 4]
    rows.close()
    db.close()


def test_duplicate_event_id_found_without_remembering_every_id(tmp_path: Path) -> None:
    db = Database(tmp_path / "a.sqlite3")
    fill(db, 6)
    first = json.loads(db.query_one("SELECT event FROM audit WHERE seq = 2")["event"])
    event = json.loads(db.query_one("SELECT event FROM audit WHERE seq = 5")["event"])
    event["event_id"] = first["event_id"]
    event["hash"] = audit.event_hash(event)
    with db.transaction() as conn:
        conn.execute(
            "UPDATE audit SET event = ?, hash = ? WHERE seq = 5", (json.dumps(event), event["hash"])
        )
    assert audit.duplicate_event_ids(db) == {first["event_id"]}
    report = audit.verify_chain(db, batch_size=2)
    assert (report.broken_seq == 5 and report.check == 5) or report.check == 3
    db.close()


def valid_event() -> dict:
    event = {
        "event_id": "e1",
        "seq": 3,
        "time": "2026-12-08T03:13:27.123Z",
        "type": "token.issued",
        "actor": {"type": "client", "id": "c"},
        "grant_id": "g",
        "sub": "alice",
        "client_id": "c",
        "token_jti": "j1",
        "scope": "a b",
        "resource": "https://r.test/",
        "act": {"actor_type": "agent", "sub": "c", "mcpa_model": "m"},
        "prev_hash": "a" * 64,
    }
    event["hash"] = audit.event_hash(event)
    return event


MUTATIONS = [
    {"event_id": ""},
    {"event_id": "x" * 257},
    {"event_id": 5},
    {"seq": 0},
    {"seq": True},
    {"seq": "3"},
    {"seq": 1},  # seq 1 needs the genesis prev_hash
    {"time": "2026-13-08T03:13:27.123Z"},
    {"time": "2026-12-08T03:13:27Z"},
    {"time": None},
    {"token_jti": ""},
    {"parent_jti": "x" * 300},
    {"prev_hash": "A" * 64},
    {"hash": "0" * 63},
    {"type": "token.exchanged"},  # needs parent_jti
    {"actor": {"type": "user", "id": "u"}},
    {"act": {"actor_type": "tool", "sub": "t"}},
    {"scope": "a  b"},
    {"password": "x"},
]


@pytest.mark.parametrize("change", MUTATIONS, ids=lambda c: json.dumps(c)[:40])
def test_fast_schema_check_agrees_with_jsonschema(change: dict) -> None:
    check = audit._SchemaCheck()
    assert check.checks, "the stand-ins are off: review _stand_in and _CONDITIONS_SHA256"
    full = validator("audit-event")
    base = valid_event()
    assert check.errors(base) is None and full.is_valid(base)
    for changed in ({**base, **change}, {**base, **change, "event_id": "other"}):
        event = {key: value for key, value in changed.items() if value is not None}
        assert (check.errors(event) is None) == full.is_valid(event)
    genesis = {**base, "seq": 1, "prev_hash": "0" * 64}
    assert check.errors(genesis) is None and full.is_valid(genesis)


@pytest.mark.skipif(not hasattr(os, "fork") or os.geteuid() != 0, reason="needs root to drop to")
def test_read_only_copy_as_an_unprivileged_user(data: Path) -> None:
    """Root may write anywhere: the 0444-in-0555 case is run as ``nobody`` in a child."""
    top = Path(tempfile.mkdtemp())
    try:
        top.chmod(0o755)
        copy = top / "copy"
        copy.mkdir()
        shutil.copy(data / "issuer.sqlite3", copy / "issuer.sqlite3")
        (copy / "issuer.sqlite3").chmod(0o444)
        copy.chmod(0o555)

        def as_nobody(verify: Callable[[], audit.ChainReport]) -> int:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads
                pid = os.fork()
            if pid == 0:  # pragma: no cover (the child)
                code = 3
                try:
                    os.setgid(65534)
                    os.setuid(65534)
                    code = 0 if verify().checked == 12 else 4
                except sqlite3.Error:
                    code = 5
                finally:
                    os._exit(code)
            return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

        path = copy / "issuer.sqlite3"
        assert as_nobody(lambda: audit.verify_chain(Database.open_read_only(path))) == 0
        assert as_nobody(lambda: audit.verify_chain(Database(path))) == 5  # the old way
        assert sorted(p.name for p in copy.iterdir()) == ["issuer.sqlite3"]
    finally:
        for path in (top, *top.rglob("*")):
            if path.is_dir():
                path.chmod(0o755)
        shutil.rmtree(top)
