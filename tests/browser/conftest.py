"""Fixtures for tests in a real browser: Debian's Chromium driven by Playwright.

- ``browser``: one headless Chromium per test module (``/usr/bin/chromium``, or
  ``$MCP_AUTH_CHROMIUM``). When Playwright or Chromium is missing the tests are skipped,
  except under ``CI=true``, where that is a failure: CI must install them (``.ci/run``).
- ``live_issuer``: a real ``mcp-auth serve`` on a free loopback port, its data directory
  seeded by ``mcp-auth demo seed`` (user, agent, tools, resource server, one active grant).
- ``screenshots``: a folder for screenshots, outside the working tree (a pytest temporary
  folder, or ``$MCP_AUTH_SCREENSHOTS`` to keep them somewhere known).

Pages are opened with :func:`new_page` (desktop or phone width); see ``helpers.py`` for
signing in and reading the consent page.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .helpers import LiveIssuer, start_issuer

CHROMIUM = os.environ.get("MCP_AUTH_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"browser tests need {reason} under CI (.ci/run installs it)")
    pytest.skip(f"{reason} is not installed")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the Python package playwright")
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        _unavailable(f"Chromium ({CHROMIUM})")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def live_issuer(tmp_path: Path) -> Iterator[LiveIssuer]:
    issuer = start_issuer(tmp_path)
    try:
        yield issuer
    finally:
        issuer.stop()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    chosen = os.environ.get("MCP_AUTH_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
