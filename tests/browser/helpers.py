"""Helpers for browser tests of the consent page: a live issuer and page actions."""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from mcp_auth.reference.issuer.client import IssuerClient, load_private_jwk
from tests.loopback import free_port, mcp_auth_command, stop_group

HOST = "127.0.0.1"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def mcp_auth(*args: str) -> list[str]:
    return [*mcp_auth_command(), *args]


@dataclass
class LiveIssuer:
    """A running ``mcp-auth serve`` with the demo seeded."""

    url: str
    data_dir: Path
    user: str
    password: str
    state: dict[str, Any]
    proc: subprocess.Popen[bytes]
    log: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def agent(self, http: httpx.Client) -> IssuerClient:
        entry = self.state["agent"]
        key = load_private_jwk(entry["private_jwk_file"])
        return IssuerClient(self.url, entry["client_id"], key, http=http)

    def request_grant(self, purpose: str, scopes: list[str] | None = None, **extra: Any) -> str:
        """A pending grant as the demo agent asks for it (POST /grants)."""
        body: dict[str, Any] = {
            "sub": self.user,
            "resources": [t["resource"] for t in self.state["tools"]]
            + [self.state["resource"]["resource"]],
            "scopes": scopes or ["files:read", "files:write"],
            "tools": [t["client_id"] for t in self.state["tools"]],
            "models": [self.state["model"]],
            "purpose": purpose,
            "expires_in": 7 * 24 * 3600,
            **extra,
        }
        with httpx.Client() as http:
            return str(self.agent(http).create_grant(body)["grant_id"])

    def grant_status(self, grant_id: str) -> str:
        token = (self.data_dir / "admin-token").read_text(encoding="utf-8").strip()
        response = httpx.get(
            f"{self.url}/grants/{grant_id}", headers={"Authorization": f"Bearer {token}"}
        )
        return str(response.json()["status"])

    def stop(self) -> None:
        stop_group(self.proc)


def start_issuer(base: Path, timeout: float = 30.0) -> LiveIssuer:
    """Seed the demo into ``base/data`` and serve it on a free loopback port."""
    data_dir = base / "data"
    port = free_port()
    url = f"http://{HOST}:{port}"
    seeded = subprocess.run(
        mcp_auth("demo", "seed", "--data-dir", str(data_dir), "--issuer-url", url),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    match = re.search(r"user\s+(\S+)\s+password: (\S+)", seeded.stdout)
    assert match, seeded.stdout
    state = json.loads((data_dir / "demo" / "demo.json").read_text(encoding="utf-8"))
    log = base / "issuer.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            mcp_auth("serve", "--data-dir", str(data_dir), "--port", str(port)),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    issuer = LiveIssuer(url, data_dir, match.group(1), match.group(2), state, proc, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"mcp-auth serve exited:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(f"{url}/consent", timeout=2.0).status_code == 200:
                return issuer
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    issuer.stop()
    raise AssertionError(f"mcp-auth serve did not answer:\n{log.read_text(errors='replace')}")


def new_page(browser: Any, viewport: dict[str, int] = DESKTOP) -> Any:
    """A page in a fresh context (own cookies), JavaScript off: the page needs none."""
    context = browser.new_context(viewport=viewport, java_script_enabled=False)
    return context.new_page()


def sign_in(page: Any, issuer: LiveIssuer, path: str = "/consent") -> None:
    page.goto(issuer.url + path)
    page.get_by_label("User name").fill(issuer.user)
    page.get_by_label("Password").fill(issuer.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def notice_text(page: Any) -> str:
    return str(page.locator(".notice").inner_text())


def screenshot(page: Any, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
