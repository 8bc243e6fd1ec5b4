"""What the tests that start real processes on loopback share: a free port and the command."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

HOST = "127.0.0.1"


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def mcp_auth_command() -> list[str]:
    """The installed ``mcp-auth`` console script, or ``python -m mcp_auth`` without one."""
    script = Path(sys.executable).with_name("mcp-auth")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mcp_auth"]


def stop_group(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """Stop a process started in its own session and everything it started: SIGTERM to its
    process group, then SIGKILL after ``grace`` seconds."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace)
