"""Listening sockets for the commands that serve HTTP: bind first, announce after.

``listen(host, port)`` binds the socket before the command prints anything, so a port that
is taken is one line (``CliError``) naming the port and the option to change it, not a
success banner followed by uvicorn's bind error. ``serve(app, sock, ...)`` then runs uvicorn
on that socket with the limits of Appendix A (A.30 to A.35): at most ``max_connections`` open
connections (beyond that a connection is closed at once, MCPA-SEC-021), each request whole
within ``request_timeout`` seconds (MCPA-SEC-020), idle keep-alive closed after 5 s, request
heads of at most 16 KiB; the soft file-descriptor limit is raised toward the hard one and
the connection cap kept below it; repeated identical log lines are collapsed (MCPA-SEC-022).
"""

from __future__ import annotations

import errno
import logging
import socket
from typing import Any

from mcp_auth.command_errors import CliError

__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_REQUEST_TIMEOUT",
    "fd_limit",
    "listen",
    "serve",
]

DEFAULT_MAX_CONNECTIONS = 1000  # A.30
DEFAULT_REQUEST_TIMEOUT = 10.0  # A.31, seconds for headers and body
KEEP_ALIVE_TIMEOUT = 5  # A.32, seconds an idle keep-alive connection is kept
MAX_HEAD_BYTES = 16 * 1024  # A.33, request line and headers
BACKLOG = 2048  # A.34, pending connections the kernel queues
FD_HEADROOM = 64  # descriptors kept for the database, logs, key files and outgoing calls
LOG_REPEAT_WINDOW = 10.0  # A.35, seconds identical log lines are collapsed

log = logging.getLogger("mcp_auth.listen")


def fd_limit() -> int:
    """Raise the soft descriptor limit toward the hard one where allowed; the soft limit."""
    try:
        import resource  # noqa: PLC0415 - POSIX only
    except ImportError:  # pragma: no cover - Windows
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    want = min(want, 65536)
    if soft != resource.RLIM_INFINITY and want > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            soft = want
        except (ValueError, OSError):
            pass
    return int(soft) if soft != resource.RLIM_INFINITY else 65536


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
        sock.listen(BACKLOG)
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


def serve(
    app: Any,
    sock: socket.socket,
    *,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    **options: Any,
) -> None:
    """Run ``app`` with uvicorn on the already bound ``sock`` until it is stopped."""
    import uvicorn  # noqa: PLC0415 - only the serving commands need it

    from mcp_auth import logfilter  # noqa: PLC0415
    from mcp_auth.request_deadline import deadline_protocol  # noqa: PLC0415 - loads uvicorn

    soft = fd_limit()
    if soft and max_connections > soft - FD_HEADROOM:
        capped = max(1, soft - FD_HEADROOM)
        log.warning(
            "at most %d connections: the file descriptor limit is %d (asked for %d)",
            capped,
            soft,
            max_connections,
        )
        max_connections = capped
    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=deadline_protocol(request_timeout, max_connections),
        # More concurrent requests than open connections can only be pipelined ones: 503.
        limit_concurrency=max_connections + 1,
        timeout_keep_alive=KEEP_ALIVE_TIMEOUT,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        backlog=BACKLOG,
        **options,
    )
    logfilter.install(LOG_REPEAT_WINDOW)  # after uvicorn.Config set up its handlers
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
