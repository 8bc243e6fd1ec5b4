"""``run_handler``: whatever escapes a command is one line on stderr and an exit code."""

from __future__ import annotations

import httpx
import pytest

from mcp_auth.command_errors import EXIT_BUG, EXIT_PIPE, CliError, run_handler


def _bug(_: object) -> int:
    raise RuntimeError("something\nbroke")


def _mistake(_: object) -> int:
    raise CliError("bad thing:\n  do this", 3)


def test_run_handler_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_handler(_mistake, None) == 3
    assert capsys.readouterr().err == "error: bad thing: do this\n"
    monkeypatch.delenv("MCP_AUTH_DEBUG", raising=False)
    assert run_handler(_bug, None) == EXIT_BUG
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "unexpected RuntimeError: something broke" in err and "MCP_AUTH_DEBUG=1" in err
    monkeypatch.setenv("MCP_AUTH_DEBUG", "1")
    assert run_handler(_bug, None) == EXIT_BUG
    assert "Traceback" in capsys.readouterr().err


def _missing_file(_: object) -> int:
    open("/nonexistent/mcp-auth-test")  # noqa: SIM115 - the error is the point
    return 0


def _in_group(_: object) -> int:
    raise ExceptionGroup("task group", [CliError("inner mistake", 4)])


def test_run_handler_maps_known_exceptions(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_handler(_missing_file, None) == 1
    assert capsys.readouterr().err == (
        "error: No such file or directory: /nonexistent/mcp-auth-test\n"
    )
    assert run_handler(_in_group, None) == 4
    assert capsys.readouterr().err == "error: inner mistake\n"


def _unreachable(_: object) -> int:
    request = httpx.Request("GET", "http://127.0.0.1:9/x")
    raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


def _pipe(_: object) -> int:
    raise BrokenPipeError(32, "Broken pipe")


def test_run_handler_transport_error_and_pipe(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_handler(_unreachable, None) == 1
    assert capsys.readouterr().err == (
        "error: cannot reach http://127.0.0.1:9/x: [Errno 111] Connection refused; is the "
        "server running at that address?\n"
    )
    assert run_handler(_pipe, None) == EXIT_PIPE
    assert capsys.readouterr().err == ""
