"""Slowloris and mid-body disconnects against a real ``mcp-auth serve`` (issue 14, 6 and 7).

One issuer subprocess on a free 127.0.0.1 port with ``--max-connections 6
--request-timeout 2``. Slow clients that trickle their request head one byte at a time are
closed by the request deadline (MCPA-SEC-020), those beyond the cap at once (MCPA-SEC-021),
after which a well-behaved client gets the metadata; a client that sends part of a body and
closes the socket is one info line, not an unhandled 500 with a traceback.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.loopback import free_port

pytestmark = pytest.mark.slow

TIMEOUT = 2
CAP = 6
SLOW = 15
METADATA = "/.well-known/oauth-authorization-server"


class Issuer:
    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "serve.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "mcp_auth.reference.issuer",
                    "serve",
                    "--data-dir",
                    str(tmp / "data"),
                    "--port",
                    str(self.port),
                    "--max-connections",
                    str(CAP),
                    "--request-timeout",
                    str(TIMEOUT),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if httpx.get(self.url + METADATA, timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.proc.kill()
        raise RuntimeError("issuer did not start")

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Issuer]:
    server = Issuer(tmp_path_factory.mktemp("limits"))
    yield server
    server.proc.terminate()
    try:
        server.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait(timeout=10)


def closed(sock: socket.socket) -> bool:
    """The server closed (or reset) this connection."""
    try:
        return sock.recv(1024, socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def test_slow_clients_are_cut_off_and_a_good_client_gets_through(issuer: Issuer) -> None:
    opened = time.monotonic()
    slow = []
    for _ in range(SLOW):
        sock = socket.create_connection(("127.0.0.1", issuer.port), timeout=2)
        sock.sendall(b"GET " + METADATA.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        slow.append(sock)
    try:
        open_at: dict[int, float] = {}
        good_at = None
        deadline = opened + TIMEOUT + 6
        while time.monotonic() < deadline and (good_at is None or len(open_at) < SLOW):
            for i, sock in enumerate(slow):
                if i in open_at:
                    continue
                if closed(sock):
                    open_at[i] = time.monotonic() - opened
                    continue
                try:
                    sock.send(b"X")  # one byte of a header name: the clock is not reset
                except OSError:
                    open_at[i] = time.monotonic() - opened
            if good_at is None:
                try:
                    if httpx.get(issuer.url + METADATA, timeout=1).status_code == 200:
                        good_at = time.monotonic() - opened
                except httpx.HTTPError:
                    pass
            time.sleep(0.25)
    finally:
        for sock in slow:
            sock.close()
    # (b) every trickling connection is closed by the deadline (or at once, past the cap) ...
    assert len(open_at) == SLOW, f"still open after {TIMEOUT + 6}s: {SLOW - len(open_at)}"
    assert max(open_at.values()) < TIMEOUT + 3
    # ... and the ones under the cap were held until the deadline, not before.
    assert sorted(open_at.values())[-1] >= TIMEOUT - 0.5
    # (a) a well-behaved client gets the metadata once they are gone.
    assert good_at is not None and good_at < TIMEOUT + 3
    log = issuer.text()
    assert "Traceback" not in log
    assert "did not send its whole request within 2s" in log


def test_a_client_that_disconnects_mid_body_is_not_a_500(issuer: Issuer) -> None:
    with socket.create_connection(("127.0.0.1", issuer.port), timeout=2) as sock:
        sock.sendall(
            b"POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 500\r\n\r\n"
            b"grant_type=client_credentials&scope="
        )
        time.sleep(0.3)  # the issuer is now waiting for the rest of the body
    deadline = time.monotonic() + 5
    while "client closed the connection" not in issuer.text() and time.monotonic() < deadline:
        time.sleep(0.1)
    log = issuer.text()
    assert "client closed the connection" in log
    assert "Traceback" not in log
    assert "unhandled error" not in log
    assert " 500 " not in log


def test_an_incomplete_request_head_over_16_kib_is_refused(issuer: Issuer) -> None:
    with socket.create_connection(("127.0.0.1", issuer.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20000)
        answer = sock.recv(64)
    assert answer.startswith(b"HTTP/1.1 400"), answer
