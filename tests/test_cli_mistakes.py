"""Every common mistake with ``mcp-auth`` is one line on stderr, a non-zero exit, no traceback.

Each case runs the real console script (``.venv/bin/mcp-auth``) as a user would. Placeholders
in a case's arguments are filled per test: ``{tmp}`` a fresh directory, ``{file}`` a regular
file, ``{data}`` an initialised data directory, ``{demo}`` a seeded demo data directory
whose issuer address refuses connections, ``{busy}`` a port something listens on, ``{dead}``
a port that refuses connections, ``{bad_toml}`` a file that is not TOML; each case has its
own directory. No server is started: the taken port is a socket this test holds, and the
cases run a few at a time.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import pytest

from mcp_auth.reference.issuer import demo
from mcp_auth.reference.issuer.app import open_data_dir
from mcp_auth.reference.issuer.settings import Settings


def _console_script() -> list[str]:
    beside = Path(sys.executable).parent / "mcp-auth"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("mcp-auth")
    return [found] if found else [sys.executable, "-m", "mcp_auth"]


MCP_AUTH = _console_script()


class Case(NamedTuple):
    argv: tuple[str, ...]
    says: str  # a fragment the one stderr line must contain
    stdin: str = ""


CASES: dict[str, Case] = {
    # the dispatcher and argparse
    "no-command": Case((), "required"),
    "unknown-command": Case(("frobnicate",), "invalid choice"),
    "unknown-option": Case(("serve", "--frob"), "unrecognized arguments: --frob"),
    # serve
    "serve-issuer-url-not-loopback": Case(
        ("serve", "--issuer-url", "http://example.com:8400", "--data-dir", "{tmp}/d"),
        "accepted: https://",
    ),
    "serve-issuer-url-with-path": Case(
        ("serve", "--issuer-url", "http://127.0.0.1:8400/path", "--data-dir", "{tmp}/d"),
        "no path",
    ),
    "serve-port-in-use": Case(
        ("serve", "--port", "{busy}", "--data-dir", "{tmp}/d"), "port {busy} on 127.0.0.1"
    ),
    "serve-public-host-without-issuer-url": Case(
        ("serve", "--host", "192.0.2.1", "--data-dir", "{tmp}/d"), "--issuer-url https://"
    ),
    "serve-port-not-a-port": Case(("serve", "--port", "99999"), "not a port number"),
    "serve-host-unknown": Case(
        (
            "serve",
            "--host",
            "192.0.2.1",
            "--issuer-url",
            "https://issuer.example",
            "--data-dir",
            "{tmp}/d",
        ),
        "--host 192.0.2.1",
    ),
    "serve-data-dir-is-a-file": Case(("serve", "--data-dir", "{file}"), "is a file"),
    "serve-data-dir-cannot-be-created": Case(
        ("serve", "--data-dir", "{file}/below"), "cannot create --data-dir"
    ),
    "serve-config-missing": Case(
        ("serve", "--config", "{tmp}/none.toml", "--data-dir", "{tmp}/d"), "cannot read"
    ),
    "serve-config-is-a-directory": Case(
        ("serve", "--config", "{tmp}", "--data-dir", "{tmp}/d"), "Is a directory"
    ),
    "serve-config-not-toml": Case(
        ("serve", "--config", "{bad_toml}", "--data-dir", "{tmp}/d"), "not valid TOML"
    ),
    "init-data-dir-is-a-file": Case(("init", "--data-dir", "{file}"), "is a file"),
    # a mistyped --data-dir never makes a new issuer (issue 9, part 3)
    "user-add-no-data-dir": Case(
        ("user", "add", "bob", "--password-stdin", "--data-dir", "{tmp}/typo"),
        "no issuer data directory",
        "a long password\n",
    ),
    "user-add-short-password": Case(
        ("user", "add", "bob", "--password-stdin", "--data-dir", "{data}"), "password", "short\n"
    ),
    "user-add-bad-name": Case(
        ("user", "add", "b b", "--password-stdin", "--data-dir", "{data}"),
        "user names",
        "a long password\n",
    ),
    "user-add-no-terminal": Case(
        ("user", "add", "bob", "--data-dir", "{data}"), "--password-stdin"
    ),
    "client-add-no-key": Case(
        ("client", "add", "a", "--type", "agent", "--data-dir", "{data}"), "--generate-key"
    ),
    "client-add-jwks-file-missing": Case(
        (
            "client",
            "add",
            "a",
            "--type",
            "agent",
            "--jwks-file",
            "{tmp}/no.json",
            "--data-dir",
            "{data}",
        ),
        "--jwks-file",
    ),
    "client-add-jwks-file-is-a-directory": Case(
        ("client", "add", "a", "--type", "agent", "--jwks-file", "{tmp}", "--data-dir", "{data}"),
        "Is a directory",
    ),
    "client-add-jwks-file-not-json": Case(
        (
            "client",
            "add",
            "a",
            "--type",
            "agent",
            "--jwks-file",
            "{bad_toml}",
            "--data-dir",
            "{data}",
        ),
        "not JSON",
    ),
    "client-add-bad-type": Case(
        ("client", "add", "a", "--type", "robot", "--generate-key"), "invalid choice"
    ),
    "client-add-tool-without-resource": Case(
        ("client", "add", "t", "--type", "tool", "--generate-key", "--data-dir", "{data}"),
        "resource",
    ),
    "client-add-no-data-dir": Case(
        ("client", "add", "a", "--type", "agent", "--generate-key", "--data-dir", "{tmp}/typo"),
        "no issuer data directory",
    ),
    "client-list-no-data-dir": Case(
        ("client", "list", "--data-dir", "{tmp}/typo"), "no issuer data directory"
    ),
    "client-list-dir-without-database": Case(
        ("client", "list", "--data-dir", "{tmp}"), "holds no issuer database"
    ),
    "client-remove-unknown-id": Case(
        ("client", "remove", "nobody", "--data-dir", "{data}"), "no client 'nobody'"
    ),
    "client-remove-no-data-dir": Case(
        ("client", "remove", "a", "--data-dir", "{tmp}/typo"), "no issuer data directory"
    ),
    "keys-rotate-no-data-dir": Case(
        ("keys", "rotate", "--data-dir", "{tmp}/typo"), "no issuer data directory"
    ),
    "audit-verify-no-data-dir": Case(
        ("audit", "verify", "--data-dir", "{tmp}/typo"), "no issuer data directory"
    ),
    "audit-verify-not-a-database": Case(
        ("audit", "verify", "--data-dir", "{tmp}/junk"), "cannot open the issuer database"
    ),
    # demo
    "demo-seed-data-dir-is-a-file": Case(("demo", "seed", "--data-dir", "{file}"), "is a file"),
    "demo-seed-bad-tool-url": Case(
        ("demo", "seed", "--data-dir", "{tmp}/d", "--tool-url", "ftp://127.0.0.1:9401/mcp"),
        "not a usable resource identifier",
    ),
    "demo-seed-bad-issuer-url": Case(
        ("demo", "seed", "--data-dir", "{tmp}/d", "--issuer-url", "http://example.com"),
        "--issuer-url",
    ),
    "demo-seed-write-target-is-a-dir": Case(
        ("demo", "seed", "--data-dir", "{tmp}/d", "--write-target", "{tmp}"), "--write-target"
    ),
    "demo-chain-no-issuer-running": Case(
        ("demo", "chain", "--data-dir", "{demo}"), "cannot reach the issuer at"
    ),
    "demo-chain-bad-issuer-url": Case(
        ("demo", "chain", "--data-dir", "{demo}", "--issuer-url", "http://example.com"),
        "accepted: https://",
    ),
    "demo-chain-not-seeded": Case(("demo", "chain", "--data-dir", "{data}"), "demo seed"),
    # resource server
    "resource-server-port-in-use": Case(
        (
            "resource-server",
            "--issuer",
            "http://127.0.0.1:8400",
            "--resource",
            "http://127.0.0.1:8402",
            "--scope",
            "data:read",
            "--port",
            "{busy}",
        ),
        "port {busy} on 127.0.0.1",
    ),
    "resource-server-skew-too-large": Case(
        (
            "resource-server",
            "--issuer",
            "http://127.0.0.1:8400",
            "--resource",
            "http://127.0.0.1:8402",
            "--scope",
            "data:read",
            "--skew",
            "600",
        ),
        "skew",
    ),
    "resource-server-issuer-not-a-url": Case(
        (
            "resource-server",
            "--issuer",
            "issuer",
            "--resource",
            "http://127.0.0.1:8402",
            "--scope",
            "data:read",
        ),
        "not an absolute http(s) URL",
    ),
    "resource-server-no-scope": Case(
        (
            "resource-server",
            "--issuer",
            "http://127.0.0.1:8400",
            "--resource",
            "http://127.0.0.1:8402",
            "--scope",
            " ",
            "--port",
            "{busy}",
        ),
        "--scope names no scope",
    ),
    "resource-server-missing-option": Case(
        ("resource-server", "--issuer", "http://127.0.0.1:8400"), "required"
    ),
    # MCP
    "mcp-example-port-in-use": Case(
        ("mcp-example", "--data-dir", "{demo}", "--port", "{busy}"), "port {busy} on 127.0.0.1"
    ),
    "mcp-example-issuer-not-a-url": Case(
        ("mcp-example", "--data-dir", "{demo}", "--issuer", "foo"), "not an absolute http(s) URL"
    ),
    "mcp-example-status-max-age-out-of-range": Case(
        ("mcp-example", "--data-dir", "{demo}", "--status-max-age", "-5"), "give 1 to 60 seconds"
    ),
    "mcp-example-no-data-dir": Case(
        ("mcp-example", "--data-dir", "{tmp}/typo"), "no data directory"
    ),
    "mcp-demo-client-no-issuer-running": Case(
        ("mcp-demo-client", "--data-dir", "{demo}", "--issuer", "http://127.0.0.1:{dead}"),
        "cannot reach the issuer at",
    ),
    "mcp-demo-client-not-seeded": Case(
        ("mcp-demo-client", "--data-dir", "{data}"), "no demo state"
    ),
    "mcp-demo-client-unknown-agent": Case(
        ("mcp-demo-client", "--data-dir", "{demo}", "--client-id", "other"),
        "no key for agent 'other'",
    ),
    "mcp-demo-client-bad-arg": Case(
        ("mcp-demo-client", "--data-dir", "{demo}", "--arg", "item"), "NAME=VALUE"
    ),
    # the conformance suite
    "conformance-issuer-port-in-use": Case(
        ("conformance", "run", "--config", "{tmp}/verifier.toml", "--out", "{tmp}/out"),
        "port {busy} (verifier.issuer_port in",
    ),
    "conformance-config-missing": Case(
        ("conformance", "run", "--config", "{tmp}/none.toml", "--out", "{tmp}/out"),
        "cannot read",
    ),
    "conformance-config-is-a-directory": Case(
        ("conformance", "run", "--config", "{tmp}", "--out", "{tmp}/out"), "Is a directory"
    ),
    "conformance-config-not-toml": Case(
        ("conformance", "run", "--config", "{bad_toml}", "--out", "{tmp}/out"), "not valid TOML"
    ),
    "conformance-bad-profile": Case(("conformance", "run", "--profile", "huge"), "invalid choice"),
    "conformance-out-is-a-file": Case(
        ("conformance", "run", "--config", "{tmp}/verifier.toml", "--out", "{file}"), "is a file"
    ),
    "conformance-expected-failures-missing": Case(
        ("conformance", "run", "--expected-failures", "{tmp}/none.toml", "--out", "{tmp}/out"),
        "--expected-failures",
    ),
}


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    """A seeded demo whose issuer address refuses connections (a bound, silent socket)."""
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    port = dead.getsockname()[1]
    folder = tmp_path_factory.mktemp("demo") / "data"
    demo.seed(Settings(data_dir=folder, issuer_url=f"http://127.0.0.1:{port}"))
    try:
        yield folder, port
    finally:
        dead.close()


def _places(case: Case, tmp: Path, demo_dir: tuple[Path, int], busy: int) -> dict[str, str]:
    """The placeholders of one case, in its own directory."""
    tmp.mkdir()
    (tmp / "file").write_text("not a directory\n")
    (tmp / "bad.toml").write_text("clients = [\n")
    (tmp / "junk").mkdir()
    (tmp / "junk" / "issuer.sqlite3").write_text("not a database, not at all" * 10)
    (tmp / "verifier.toml").write_text(
        'spec_version = "draft-01"\n[verifier]\n'
        'resource = "http://127.0.0.1:9/mcp"\nurl = "http://127.0.0.1:9/mcp"\n'
        f"issuer_port = {busy}\n"
    )
    if any("{data}" in arg for arg in case.argv):
        open_data_dir(Settings(data_dir=tmp / "data")).db.close()
    return {
        "tmp": str(tmp),
        "file": str(tmp / "file"),
        "bad_toml": str(tmp / "bad.toml"),
        "data": str(tmp / "data"),
        "demo": str(demo_dir[0]),
        "dead": str(demo_dir[1]),
        "busy": str(busy),
    }


def _run(argv: list[str], tmp: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("MCP_AUTH_DEBUG", None)
    env["MCP_AUTH_DATA_DIR"] = os.path.join(tmp, "default-data-dir")  # never the user's
    return subprocess.run(
        [*MCP_AUTH, *argv],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


Outcome = tuple[dict[str, str], subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def outcomes(
    tmp_path_factory: pytest.TempPathFactory, demo_dir: tuple[Path, int]
) -> Iterator[dict[str, Outcome]]:
    """Every case run once, a few at a time (each is a short-lived process)."""
    root = tmp_path_factory.mktemp("mistakes")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]

        def one(name: str) -> Outcome:
            case = CASES[name]
            places = _places(case, root / name, demo_dir, port)
            argv = [arg.format(**places) for arg in case.argv]
            return places, _run(argv, places["tmp"], case.stdin)

        with ThreadPoolExecutor(max_workers=3) as pool:
            yield dict(zip(CASES, pool.map(one, CASES), strict=True))


@pytest.mark.parametrize("name", sorted(CASES))
def test_mistake_is_one_line(name: str, outcomes: dict[str, Outcome]) -> None:
    places, result = outcomes[name]
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output, output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert CASES[name].says.format(**places) in lines[0], lines[0]


def test_mistyped_data_dir_creates_nothing(tmp_path: Path) -> None:
    """Issue 9 part 3: a command on a missing data directory leaves no issuer behind."""
    typo = tmp_path / "no-such-dir"
    for argv in (
        ["audit", "verify"],
        ["client", "list"],
        ["client", "remove", "x"],
        ["keys", "rotate"],
        ["user", "add", "bob", "--password-stdin"],
        ["client", "add", "a", "--type", "agent", "--generate-key"],
    ):
        result = _run([*argv, "--data-dir", str(typo)], str(tmp_path), "a long password\n")
        assert result.returncode == 2, result
        assert not typo.exists(), argv
    # A directory without a database is not adopted either.
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _run(["client", "list", "--data-dir", str(empty)], str(tmp_path)).returncode == 2
    assert list(empty.iterdir()) == []


def test_serve_port_in_use_announces_nothing(tmp_path: Path) -> None:
    """Bind first: no banner, no "Application startup complete", no data directory."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = _run(
            ["serve", "--port", str(port), "--data-dir", str(tmp_path / "d")], str(tmp_path)
        )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: port {port} on 127.0.0.1 is already in use: stop the program listening there "
        "or choose another port with --port"
    ]
    assert not (tmp_path / "d").exists()


def test_broken_pipe_is_quiet(tmp_path: Path) -> None:
    """``mcp-auth demo seed ... | head -3``: the reader went away; no traceback, no message."""
    env = dict(os.environ, MCP_AUTH_DATA_DIR=str(tmp_path / "default"))
    proc = subprocess.Popen(
        [*MCP_AUTH, "demo", "seed", "--data-dir", str(tmp_path / "d")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the command writes anything
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=60)
    proc.stderr.close()
    assert err == ""
    assert code == 141  # 128 + SIGPIPE, as a shell reports a filter stopped by its reader
