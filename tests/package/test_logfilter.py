"""The repeated-line filter collapses a log flood (MCPA-SEC-022)."""

from __future__ import annotations

import io
import logging

from mcp_auth.logfilter import RepeatFilter


def _logger(repeat: RepeatFilter) -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(repeat)
    logger = logging.getLogger(f"test.logfilter.{id(repeat)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger, out


def test_a_thousand_identical_lines_become_a_handful() -> None:
    now = [0.0]
    repeat = RepeatFilter(window=10, clock=lambda: now[0])
    logger, out = _logger(repeat)
    for i in range(1000):
        now[0] = i * 0.01  # 1000 lines in 10 s
        logger.info("closed a connection from %s", "127.0.0.1")
    now[0] = 30
    logger.info("closed a connection from %s", "127.0.0.1")
    lines = out.getvalue().splitlines()
    assert len(lines) <= 3
    assert lines[0] == "closed a connection from 127.0.0.1"
    assert lines[-1] == "closed a connection from 127.0.0.1 (repeated 999 times)"


def test_different_messages_and_loggers_are_kept() -> None:
    repeat = RepeatFilter(window=10, clock=lambda: 0.0)
    logger, out = _logger(repeat)
    logger.info("one")
    logger.info("two")
    logger.warning("one")  # another level is another line
    other = logging.getLogger(logger.name + ".child")
    other.info("one")  # another logger too (it propagates to the same handler)
    assert out.getvalue().splitlines() == ["one", "two", "one", "one"]
