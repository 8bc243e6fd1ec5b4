"""Every ``mcp-auth`` command's ``--help`` describes each option with its default and ends
with an example; the console script prints the same."""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import redirect_stderr

import pytest

from mcp_auth.cli import build_parser
from mcp_auth.command_parser import CliParser


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


COMMANDS = dict(_commands(build_parser()))


def _own_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [
        a
        for a in parser._actions
        if not isinstance(a, argparse._HelpAction | argparse._VersionAction)
        and not isinstance(a, argparse._SubParsersAction)
    ]


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=lambda p: " ".join(p) or "mcp-auth")
def test_help_ends_with_an_example(path: tuple[str, ...]) -> None:
    text = COMMANDS[path].format_help()
    lines = text.rstrip().splitlines()
    heads = [n for n, line in enumerate(lines) if line in ("example:", "examples:")]
    assert heads, f"mcp-auth {' '.join(path)} --help has no example epilog:\n{text}"
    shown = [line.strip() for line in lines[heads[-1] + 1 :] if line.startswith("  ")]
    assert shown and any(line.startswith("mcp-auth ") or "| mcp-auth " in line for line in shown)
    assert any(" ".join(path) in line for line in shown), shown  # an example of this command


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=lambda p: " ".join(p) or "mcp-auth")
def test_every_option_has_help_with_its_default(path: tuple[str, ...]) -> None:
    parser = COMMANDS[path]
    formatter = parser._get_formatter()
    for action in _own_actions(parser):
        assert action.help, f"{path} {action.dest} has no help text"
        shown = formatter._expand_help(action)
        flag = isinstance(action, argparse._StoreTrueAction | argparse._StoreFalseAction)
        if action.option_strings and not action.required and not flag:
            assert "default" in shown or str(action.default) in shown, (path, action.dest, shown)


def test_console_script_help_shows_defaults() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mcp_auth", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
        check=True,
    )
    assert "address to listen on (default: 127.0.0.1)" in result.stdout
    assert "port to listen on (default: 8400)" in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].strip().startswith("mcp-auth serve")


def test_usage_error_is_one_line() -> None:
    err = io.StringIO()
    with redirect_stderr(err), pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["serve", "--port", "http"])
    assert exit_info.value.code == 2
    assert err.getvalue().splitlines() == [
        "mcp-auth serve: error: argument --port: 'http' is not a port number: give 1 to 65535 "
        "(see `mcp-auth serve --help`)"
    ]
    assert isinstance(COMMANDS[("serve",)], CliParser)
