"""Listening sockets for the commands that serve HTTP: bind first, announce after.

``listen(host, port)`` binds the socket before the command prints anything, so a port that
is taken is one line (``CliError``) naming the port and the option to change it, not a
success banner followed by uvicorn's bind error. ``serve(app, sock, ...)`` then runs uvicorn
on that socket.
"""

from __future__ import annotations

import errno
import socket
from typing import Any

from mcp_auth.command_errors import CliError

__all__ = ["listen", "serve"]


def listen(
    host: str, port: int, *, host_option: str = "--host", port_option: str = "--port"
) -> socket.socket:
    """A bound, listening TCP socket on ``host:port``, or ``CliError`` saying what to change."""
    if not 0 <= port <= 65535:
        raise CliError(f"{port_option} {port} is not a port: give 1 to 65535", 2)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise CliError(
            f"{host_option} {host!r} is not an address of this machine ({exc}): give an IP "
            "address such as 127.0.0.1",
            2,
        ) from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise CliError(
                f"port {port} on {host} is already in use: stop the program listening there "
                f"or choose another port with {port_option}",
                2,
            ) from None
        if exc.errno == errno.EACCES:
            raise CliError(
                f"no permission to listen on port {port}: choose a port above 1023 with "
                f"{port_option}",
                2,
            ) from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise CliError(
                f"{host_option} {host} is not an address of this machine: give one it has, "
                "such as 127.0.0.1",
                2,
            ) from None
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}", 2) from None
    sock.set_inheritable(True)
    return sock


def serve(app: Any, sock: socket.socket, **options: Any) -> None:
    """Run ``app`` with uvicorn on the already bound ``sock`` until it is stopped."""
    import uvicorn  # noqa: PLC0415 - only the serving commands need it

    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(app, host=host, port=port, **options)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
