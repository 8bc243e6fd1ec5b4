"""How every ``mcp-auth`` command fails: one line on stderr, a non-zero exit code, no traceback.

A command that meets a mistake the user can fix raises ``CliError(message, exit_code)``; the
message says what is wrong and what to do. ``run_handler`` runs a command and turns what
escapes it into that one line:

* ``CliError``: its message, its exit code;
* ``BrokenPipeError`` (``mcp-auth ... | head``): nothing at all, exit 141 (128 + SIGPIPE), the
  way a Unix filter stops when its reader has gone;
* ``KeyboardInterrupt``: ``interrupted``, exit 130;
* an HTTP transport error (``httpx``: connection refused, timeout): the URL that could not be
  reached and the reason, exit 1;
* any other ``OSError``: the file and the reason, exit 1;
* anything else is a bug: one line saying so, exit 70 (``EX_SOFTWARE``); with
  ``MCP_AUTH_DEBUG=1`` in the environment the traceback is printed first.

The conformance suite uses this module too, so it lives in the top-level package and imports
nothing from ``mcp_auth.reference``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

__all__ = ["DEBUG_ENV", "EXIT_BUG", "EXIT_PIPE", "CliError", "describe", "run_handler"]

DEBUG_ENV = "MCP_AUTH_DEBUG"
EXIT_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a filter whose reader went away
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_BUG = 70  # EX_SOFTWARE (sysexits.h)


class CliError(Exception):
    """A mistake the user can fix; ``message`` is one line naming it and what to do."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = " ".join(message.split())  # one line, whatever the caller built
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


def _leaf(exc: BaseException) -> BaseException:
    """The first exception inside (nested) exception groups (anyio task groups raise them)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _transport_error(exc: BaseException) -> str | None:
    """``cannot reach URL: reason`` for an HTTP transport error (httpx, or the SDK's httpx2)."""
    # By name, so that failing needs no import of httpx: its TransportError and subclasses.
    if not any(
        cls.__name__ == "TransportError" and cls.__module__.split(".")[0] in ("httpx", "httpx2")
        for cls in type(exc).__mro__
    ):
        return None
    url = ""
    with contextlib.suppress(AttributeError, RuntimeError):  # no request attached
        url = str(exc.request.url)  # type: ignore[attr-defined]
    reason = str(exc) or type(exc).__name__
    where = f" {url}" if url else ""
    return f"cannot reach{where}: {reason}; is the server running at that address?"


def describe(exc: BaseException) -> tuple[str, int] | None:
    """One line and an exit code for an exception a user can meet; None for a bug."""
    exc = _leaf(exc)
    if isinstance(exc, CliError):
        return exc.message, exc.exit_code
    transport = _transport_error(exc)
    if transport is not None:
        return transport, 1
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc) or type(exc).__name__
        name = exc.filename if exc.filename is not None else ""
        return (f"{reason}: {name}" if name else reason), 1
    return None


def _quiet_stdout() -> None:
    """After EPIPE: point stdout at /dev/null so that the interpreter's final flush is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def run_handler(handler: Callable[[Any], int | None], args: Any) -> int:
    """Run one command's handler; whatever it raises becomes one line on stderr."""
    try:
        code = int(handler(args) or 0)
        sys.stdout.flush()  # a closed pipe shows up here, not at interpreter exit
        return code
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_PIPE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # the last resort: never a bare traceback
        if isinstance(_leaf(exc), BrokenPipeError):
            _quiet_stdout()
            return EXIT_PIPE
        known = describe(exc)
        if known is not None:
            message, code = known
            print(f"error: {message}", file=sys.stderr)
            return code
        if os.environ.get(DEBUG_ENV):
            traceback.print_exc()
        leaf = _leaf(exc)
        detail = " ".join(str(leaf).split())[:200]
        print(
            f"error: unexpected {type(leaf).__name__}{': ' + detail if detail else ''} "
            f"(a bug in mcp-auth: run again with {DEBUG_ENV}=1 for the traceback and report it)",
            file=sys.stderr,
        )
        return EXIT_BUG
