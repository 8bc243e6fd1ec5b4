"""The issuer's mcp-auth subcommands (run in-process)."""

from __future__ import annotations

import io
import json
import tomllib
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from mcp_auth.reference.issuer import __main__ as cli_main
from mcp_auth.reference.issuer import demo
from mcp_auth.reference.issuer.app import create_app
from mcp_auth.reference.issuer.settings import Settings
from mcp_auth.reference.issuer.storage import Database
from mcp_auth.schemas import validate


def run(*argv: str) -> int:
    return cli_main.main(list(argv))


def test_user_add(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp_auth.reference.issuer.users import check_password

    monkeypatch.setattr("sys.stdin", io.StringIO("a long password\n"))
    assert run("user", "add", "carol", "--password-stdin", "--data-dir", str(tmp_path)) == 0
    db = Database(tmp_path / "issuer.sqlite3")
    assert check_password(db, "carol", "a long password")
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert run("user", "add", "carol", "--password-stdin", "--data-dir", str(tmp_path)) == 1


def test_client_add_list_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = str(tmp_path)
    assert (
        run(
            "client",
            "add",
            "t1",
            "--type",
            "tool",
            "--resource",
            "https://t.test/mcp",
            "--generate-key",
            "--data-dir",
            d,
        )
        == 0
    )
    key = tmp_path / "clients" / "t1.jwk"
    assert key.stat().st_mode & 0o777 == 0o600 and "d" in json.loads(key.read_text())
    assert run("client", "add", "t2", "--type", "tool", "--generate-key", "--data-dir", d) == 1
    public = {k: v for k, v in json.loads(key.read_text()).items() if k != "d"}
    (tmp_path / "pub.json").write_text(json.dumps(public))
    assert (
        run(
            "client",
            "add",
            "a1",
            "--type",
            "agent",
            "--jwks-file",
            str(tmp_path / "pub.json"),
            "--data-dir",
            d,
        )
        == 0
    )
    capsys.readouterr()
    assert run("client", "list", "--data-dir", d) == 0
    out = capsys.readouterr().out
    assert "t1\ttool\thttps://t.test/mcp" in out and "a1\tagent" in out
    assert run("client", "remove", "a1", "--data-dir", d) == 0
    assert run("client", "remove", "a1", "--data-dir", d) == 1


def test_keys_rotate(tmp_path: Path) -> None:
    assert run("keys", "rotate", "--data-dir", str(tmp_path)) == 0
    assert len(list((tmp_path / "keys").glob("*.json"))) == 4


def test_audit_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("audit", "verify", "--data-dir", str(tmp_path)) == 2
    demo.seed(Settings(data_dir=tmp_path))
    assert run("audit", "verify", "--data-dir", str(tmp_path)) == 0
    assert "audit chain OK: 2 events" in capsys.readouterr().out
    db = Database(tmp_path / "issuer.sqlite3")
    with db.transaction() as conn:
        conn.execute("UPDATE audit SET event = replace(event, 'alice', 'mallory') WHERE seq = 2")
    db.close()
    assert run("audit", "verify", "--data-dir", str(tmp_path)) == 1
    assert "BROKEN at record seq=2" in capsys.readouterr().out


def test_demo_seed_target_and_chain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "target.toml"
    assert (
        run(
            "demo",
            "seed",
            "--data-dir",
            str(tmp_path / "d"),
            "--write-target",
            str(target),
            "--issuer-url",
            "http://127.0.0.1:8400",
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "password:" in out and "mcp-auth demo chain" in out
    config = tomllib.loads(target.read_text())
    validate("conformance-target", config)
    assert config["issuer"]["grants"]["mode"] == "admin"
    assert [t["resource"] for t in config["issuer"]["tools"]] == [
        "http://127.0.0.1:8401/mcp",
        "http://127.0.0.1:8411/mcp",
        "http://127.0.0.1:8421/mcp",
    ]
    for name in ("demo-agent", "demo-tool-1", "demo-tool-2", "demo-tool-3", "demo-resource"):
        assert (tmp_path / "d" / "demo" / f"{name}.jwk").stat().st_mode & 0o777 == 0o600
    assert target.stat().st_mode & 0o777 == 0o600
    settings = Settings(data_dir=tmp_path / "d", issuer_url="http://127.0.0.1:8400")
    app = create_app(settings)
    with TestClient(app, base_url="http://127.0.0.1:8400") as http:
        assert demo.chain(settings, http=http) == 0
    out = capsys.readouterr().out
    for step in (
        "1. issuance",
        "4. exchange",
        "5. introspection",
        "6. revocation",
        '{"active": false}',
        "refused: 400 invalid_grant",
    ):
        assert step in out
    app.state.ctx.db.close()
    assert run("audit", "verify", "--data-dir", str(tmp_path / "d")) == 0


def test_chain_without_seed(tmp_path: Path) -> None:
    assert run("demo", "chain", "--data-dir", str(tmp_path)) == 1
