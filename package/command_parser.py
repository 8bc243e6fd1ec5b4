"""The argument parser every ``mcp-auth`` command uses: defaults in the help, one-line errors.

``CliParser`` is an ``argparse.ArgumentParser`` whose subparsers are ``CliParser`` too
(argparse creates them with the parent's class), so a module's ``register(subparsers)`` gets
these behaviours without asking:

* ``--help`` states each option's default (``(default: 8400)``), except where the default is
  unset (``None``) or a flag is off, and where the help text already names it; an
  ``epilog=examples(...)`` is printed as written (the description is wrapped as usual);
* a usage mistake (unknown option, bad choice, missing argument) is one line on stderr,
  ``mcp-auth serve: error: ... (see mcp-auth serve --help)``, exit 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, NoReturn
from urllib.parse import urlsplit

__all__ = ["CliParser", "HelpFormatter", "examples", "http_url", "port", "seconds"]


class HelpFormatter(argparse.HelpFormatter):
    """``(default: X)`` appended where a default is set; an examples epilog printed as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith(("example:", "examples:")):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help
        if text is None or "%(default)" in text:
            return text
        default = action.default
        if default is None or default is False or default == [] or default is argparse.SUPPRESS:
            return text
        if action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            return f"{text} (default: %(default)s)"
        return text


class CliParser(argparse.ArgumentParser):
    """``ArgumentParser`` with ``HelpFormatter`` and one-line usage errors."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        line = " ".join(message.split())
        print(f"{self.prog}: error: {line} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(2)


def examples(*lines: str) -> str:
    """An epilog: ``example:`` (or ``examples:``) and the command lines, indented."""
    head = "example:" if len(lines) == 1 else "examples:"
    return "\n".join([head, *(f"  {line}" for line in lines)])


def port(text: str) -> int:
    """``type=`` for a TCP port option: 1 to 65535."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number: give 1 to 65535")
    return value


def http_url(text: str) -> str:
    """``type=`` for a URL option: an absolute http or https URL with a host, no fragment."""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an absolute http(s) URL: give one like http://127.0.0.1:8400"
        )
    return text


def seconds(low: int, high: int) -> Callable[[str], int]:
    """``type=`` for a whole number of seconds from ``low`` to ``high``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r}: give {low} to {high} seconds")
        return value

    return parse
