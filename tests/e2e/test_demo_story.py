"""``mcp-auth demo``, run as a user runs it: the real console script, real child processes.

* ``mcp-auth demo --yes``: seeds, starts the issuer, three tools and the resource server,
  approves the pending grant through the consent form, prints the eight checked steps;
* ``mcp-auth demo`` waits for the person: the test signs in on the consent page as the demo
  user with the printed password and approves, as a person would;
* Ctrl-C (SIGINT) while it waits: exit 130, no traceback, every child process gone and the
  temporary data directory removed;
* a step that misbehaves is named (exit 1), and a server that cannot start is one line.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from mcp_auth.reference.issuer import demo_story
from mcp_auth.reference.issuer.client import IssuerClient
from mcp_auth.reference.issuer.demo_consent import decide_on_consent_page
from tests.loopback import mcp_auth_command as command

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

HOP_LINE = "demo-agent (model demo-model) → demo-tool-1 → demo-tool-2 → demo-tool-3 → resource"
CLOSING = "all 8 steps behaved as specified"
RUN_TIMEOUT = 120.0


def children_of(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found: set[int] = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "Z"


class Demo:
    """``mcp-auth demo ARGS`` with its output read line by line as it comes."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [*command(), "demo", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self.err: list[str] = []
        self.children: set[int] = set()
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.lines), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: IO[str], into: list[str]) -> None:
        for line in stream:
            into.append(line)

    @property
    def out(self) -> str:
        return "".join(self.lines)

    @property
    def stderr(self) -> str:
        return "".join(self.err)

    def wait_for(self, text: str, timeout: float = RUN_TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.children |= children_of(self.proc.pid)
            if text in self.out:
                return self.out
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        pytest.fail(f"no {text!r} in the output:\n{self.out}\n{self.stderr}")

    def finish(self, timeout: float = RUN_TIMEOUT) -> int:
        code = self.proc.wait(timeout=timeout)
        self._close()
        return code

    def _close(self) -> None:
        for reader in self._readers:
            reader.join(timeout=5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def value(self, label: str) -> str:
        match = re.search(rf"^\s*{label}\s+(\S+)", self.out, re.MULTILINE)
        assert match, f"no {label!r} in:\n{self.out}"
        return match.group(1)

    def kill_everything(self) -> None:
        """Clean-up of last resort, should a test fail half-way."""
        if self.proc.poll() is None:
            self.children |= children_of(self.proc.pid)
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._close()
        for pid in self.children:
            if alive(pid):
                os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def demos(tmp_path: Path) -> Iterator[list[Demo]]:
    started: list[Demo] = []
    yield started
    for demo in started:
        demo.kill_everything()


def _assert_story(demo: Demo) -> None:
    out = demo.out
    assert HOP_LINE in out
    assert "scope narrowed here: files:read files:write → files:read" in out
    assert "EXPECTED: refused, because a revoked token cannot be exchanged" in out
    assert "EXPECTED: inactive" in out
    assert "FAILED" not in out
    assert out.rstrip().endswith(CLOSING), out
    assert "Traceback" not in out + demo.stderr


def test_demo_yes_tells_the_whole_story(tmp_path: Path, demos: list[Demo]) -> None:
    demo = Demo(tmp_path, "--yes")
    demos.append(demo)
    demo.wait_for("servers started")
    assert demo.finish() == 0, demo.out + demo.stderr
    _assert_story(demo)
    assert "approving it as alice through the consent page's form" in demo.out
    for step in range(1, 9):
        assert f"\n{step}. " in demo.out
    assert not Path(demo.value("data directory")).exists()
    assert not list(tmp_path.iterdir())  # nothing left behind
    assert demo.children and not any(alive(pid) for pid in demo.children)


def test_demo_waits_for_the_person_to_approve(tmp_path: Path, demos: list[Demo]) -> None:
    demo = Demo(tmp_path, "--timeout", "60")
    demos.append(demo)
    demo.wait_for("waiting for alice to approve it on the consent page")
    assert "(pending)" in demo.out
    # The person: opens the consent URL, signs in with the printed password, approves.
    decide_on_consent_page(demo.value("consent page"), "alice", demo.value("password"))
    assert demo.finish() == 0, demo.out + demo.stderr
    assert "alice approved the grant: it is active" in demo.out
    _assert_story(demo)


def test_demo_ctrl_c_stops_everything(tmp_path: Path, demos: list[Demo]) -> None:
    demo = Demo(tmp_path)
    demos.append(demo)
    demo.wait_for("waiting for alice to approve it")
    data_dir = Path(demo.value("data directory"))
    assert data_dir.is_dir()
    children = children_of(demo.proc.pid)
    assert len(children) == 5, children  # issuer, three tools, resource server
    demo.proc.send_signal(signal.SIGINT)
    assert demo.finish(timeout=30) == 130
    assert "Traceback" not in demo.out + demo.stderr
    assert "interrupted: stopped 5 processes" in demo.stderr
    assert not any(alive(pid) for pid in children)
    assert not data_dir.exists()


def test_demo_denied_grant_exits_1(tmp_path: Path, demos: list[Demo]) -> None:
    demo = Demo(tmp_path, "--timeout", "60")
    demos.append(demo)
    demo.wait_for("waiting for alice to approve it")
    decide_on_consent_page(demo.value("consent page"), "alice", demo.value("password"), "deny")
    assert demo.finish() == 1
    assert "the grant is denied, so there is no chain to show" in demo.out
    assert "Traceback" not in demo.out + demo.stderr
    assert not list(tmp_path.iterdir())


# -- the failure paths, in-process (the servers are still real child processes) ----------
def _demo_args(**overrides: object) -> argparse.Namespace:
    values: dict[str, object] = {"yes": True, "timeout": 60.0, "keep": False}
    values.update(overrides)
    return argparse.Namespace(**values)


def _started_children(monkeypatch: pytest.MonkeyPatch) -> list[demo_story.Child]:
    seen: list[demo_story.Child] = []
    original = demo_story.Story.start

    def start(self: demo_story.Story, *args: str) -> None:
        original(self, *args)
        seen.append(self.children[-1])

    monkeypatch.setattr(demo_story.Story, "start", start)
    return seen


def test_demo_names_the_step_that_misbehaved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    children = _started_children(monkeypatch)
    # A revocation that silently does nothing: the token stays active, step 7 must say so.
    monkeypatch.setattr(IssuerClient, "revoke", lambda self, token: None)
    assert demo_story.cmd_demo(_demo_args()) == 1
    out = capsys.readouterr().out
    assert "7. introspection after revocation  [FAILED]" in out
    assert out.rstrip().endswith(
        "NOT AS SPECIFIED: step 7 (introspection after revocation); step 8 did not run"
    )
    assert len(children) == 5 and all(c.proc.poll() is not None for c in children)
    assert not list(tmp_path.iterdir())


def test_demo_server_that_cannot_start_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    children = _started_children(monkeypatch)
    choose = demo_story.free_ports
    with socket.socket() as taken:  # the issuer is given a port that is already in use
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setattr(demo_story, "free_ports", lambda n: [port, *choose(n - 1)])
        assert demo_story.cmd_demo(_demo_args()) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mcp-auth demo: "), captured.err
    assert lines[0].startswith("mcp-auth demo: issuer exited with code")
    assert str(port) in lines[0]  # the reason, from the issuer's log
    assert "Traceback" not in captured.out + captured.err
    assert children and all(c.proc.poll() is not None for c in children)
    assert not list(tmp_path.iterdir())
