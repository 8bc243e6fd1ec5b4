"""The issuer's mcp-auth subcommands (run in-process)."""

from __future__ import annotations

import io
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from mcp_auth.reference.issuer import __main__ as cli_main
from mcp_auth.reference.issuer import demo
from mcp_auth.reference.issuer.app import create_app
from mcp_auth.reference.issuer.clients import list_clients
from mcp_auth.reference.issuer.settings import Settings
from mcp_auth.reference.issuer.storage import Database
from mcp_auth.schemas import validate


def run(*argv: str) -> int:
    return cli_main.main(list(argv))


def test_user_add(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp_auth.reference.issuer.users import check_password

    assert run("init", "--data-dir", str(tmp_path)) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("a long password\n"))
    assert run("user", "add", "carol", "--password-stdin", "--data-dir", str(tmp_path)) == 0
    db = Database(tmp_path / "issuer.sqlite3")
    assert check_password(db, "carol", "a long password")
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert run("user", "add", "carol", "--password-stdin", "--data-dir", str(tmp_path)) == 1


def test_client_add_list_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = str(tmp_path)
    assert run("init", "--data-dir", d) == 0
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
    assert run("init", "--data-dir", str(tmp_path)) == 0
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
        "active = False",
        "refused: 400 invalid_request (subject_token_revoked)",
        "demo-agent (model demo-model) → demo-tool-1 → demo-tool-2 → demo-tool-3 → resource",
        "all 8 steps behaved as specified",
    ):
        assert step in out
    assert "FAILED" not in out
    app.state.ctx.db.close()
    assert run("audit", "verify", "--data-dir", str(tmp_path / "d")) == 0


def test_chain_without_seed(tmp_path: Path) -> None:
    assert run("demo", "chain", "--data-dir", str(tmp_path)) == 1


def _demo_state(data_dir: Path) -> dict[str, Any]:
    state: dict[str, Any] = json.loads((data_dir / "demo" / "demo.json").read_text())
    return state


def test_demo_seed_chooses_addresses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "d"
    argv = ("demo", "seed", "--data-dir", str(d), "--issuer-url", "http://127.0.0.1:9400")
    # One tool and the resource server on chosen ports: the grant covers exactly those.
    assert (
        run(
            *argv,
            "--tool-url",
            "http://127.0.0.1:9401/mcp",
            "--resource-url",
            "http://127.0.0.1:9402",
        )
        == 0
    )
    assert "demo-tool-1  http://127.0.0.1:9401/mcp" in capsys.readouterr().out
    state = _demo_state(d)
    assert state["tools"] == [
        {
            "client_id": "demo-tool-1",
            "resource": "http://127.0.0.1:9401/mcp",
            "private_jwk_file": str(d / "demo" / "demo-tool-1.jwk"),
        }
    ]
    assert state["resource"]["resource"] == "http://127.0.0.1:9402"
    settings = Settings(data_dir=d, issuer_url="http://127.0.0.1:9400")
    app = create_app(settings)
    with TestClient(app, base_url="http://127.0.0.1:9400") as http:
        grant = http.get(
            f"/grants/{state['grant_id']}",
            headers={"Authorization": f"Bearer {app.state.ctx.admin_token}"},
        ).json()
        assert grant["resources"] == ["http://127.0.0.1:9401/mcp", "http://127.0.0.1:9402"]
        assert grant["tools"] == ["demo-tool-1"]
        assert demo.chain(settings, http=http) == 0
    out = capsys.readouterr().out
    for step in ("2. exchange", "3. introspection", "4. revocation", "invalid_request"):
        assert step in out
    clients = {c.client_id: c.resource for c in list_clients(app.state.ctx.db)}
    app.state.ctx.db.close()

    # Seeding again with a port base replaces the demo clients (three tools again).
    assert run(*argv, "--tool-port-base", "9500") == 0
    state = _demo_state(d)
    assert [t["resource"] for t in state["tools"]] == [
        "http://127.0.0.1:9500/mcp",
        "http://127.0.0.1:9510/mcp",
        "http://127.0.0.1:9520/mcp",
    ]
    assert state["resource"]["resource"] == "http://127.0.0.1:8402"
    assert clients["demo-tool-1"] == "http://127.0.0.1:9401/mcp"


@pytest.mark.parametrize(
    "extra",
    [
        ("--tool-url", "ftp://127.0.0.1:9401/mcp"),
        ("--tool-url", "http://example.com/mcp"),
        ("--tool-url", "http://127.0.0.1:9402", "--resource-url", "http://127.0.0.1:9402"),
        tuple(arg for n in range(4) for arg in ("--tool-url", f"http://127.0.0.1:{9401 + n}")),
        ("--tool-port-base", "65530"),
    ],
)
def test_demo_seed_refuses_bad_addresses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: tuple[str, ...]
) -> None:
    assert run("demo", "seed", "--data-dir", str(tmp_path), *extra) == 1
    assert "error:" in capsys.readouterr().err
    assert not (tmp_path / "demo" / "demo.json").exists()


def test_demo_seed_keeps_other_clients_addresses(tmp_path: Path) -> None:
    db_dir = str(tmp_path)
    assert run("init", "--data-dir", db_dir) == 0
    assert (
        run(
            "client",
            "add",
            "mine",
            "--type",
            "tool",
            "--resource",
            "http://127.0.0.1:8401/mcp",
            "--generate-key",
            "--data-dir",
            db_dir,
        )
        == 0
    )
    assert run("demo", "seed", "--data-dir", db_dir) == 1
    assert run("demo", "seed", "--data-dir", db_dir, "--tool-port-base", "9401") == 0
