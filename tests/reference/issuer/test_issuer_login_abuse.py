"""Abuse of ``POST /consent/login`` (issue 14 finding 3, finding 7's sessions item).

Each test reproduces an attack in-process (httpx over the ASGI app, no sockets) with the
password check replaced by a counting stand-in, so "no hashing" is observed directly:
forged CSRF pairs, many concurrent sign-ins, repeated failures, and a session that outlives
a password change.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from mcp_auth.reference.issuer import consent
from mcp_auth.reference.issuer.consent_session import HOST_LOGIN_COOKIE, LOGIN_COOKIE
from mcp_auth.reference.issuer.login_guard import LoginGuard, issue_login_token, login_token_ok
from mcp_auth.reference.issuer.users import add_user

from .conftest import ISSUER, PASSWORD, USER, World

WRONG = "wrong-password"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


class Hashes:
    """Stands in for ``check_password``: counts calls and the most running at once."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds, self.calls, self.active, self.most = seconds, 0, 0, 0
        self.lock = threading.Lock()

    def __call__(self, db: object, name: str, password: str) -> bool:
        with self.lock:
            self.calls += 1
            self.active += 1
            self.most = max(self.most, self.active)
        time.sleep(self.seconds)
        with self.lock:
            self.active -= 1
        return name == USER and password == PASSWORD


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> Hashes:
    fake = Hashes()
    monkeypatch.setattr(consent, "check_password", fake)
    return fake


def use_guard(world: World, **limits: Any) -> LoginGuard:
    guard = LoginGuard(**limits)
    world.http.app.state.login_guard = guard  # type: ignore[attr-defined]
    return guard


def client(world: World, address: str = "203.0.113.7") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=world.http.app, client=(address, 40000))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url=ISSUER)


async def form_token(http: httpx.AsyncClient) -> str:
    page = await http.get("/consent")
    match = CSRF_RE.search(page.text)
    assert match, page.text
    return match.group(1)


async def post_login(
    http: httpx.AsyncClient, token: str, user: str = USER, password: str = WRONG
) -> httpx.Response:
    return await http.post(
        "/consent/login",
        data={"username": user, "password": password, "csrf_token": token},
        headers={"Cookie": f"{HOST_LOGIN_COOKIE}={token}"},
    )


def run(test: Callable[[], Any]) -> Any:
    return asyncio.run(test())


def test_forged_cookie_and_field_pair_is_refused_without_hashing(
    world: World, hashes: Hashes
) -> None:
    for name in (HOST_LOGIN_COOKIE, LOGIN_COOKIE):
        response = world.http.post(
            "/consent/login",
            data={"username": USER, "password": "wrong-password", "csrf_token": "attacker-chosen"},
            headers={"Cookie": f"{name}=attacker-chosen"},
        )
        assert response.status_code == 403
    # A well-formed token under another key, or one past its expiry, is forged too.
    other = issue_login_token(b"k" * 32)
    expired = issue_login_token(
        world.http.app.state.login_guard.secret,  # type: ignore[attr-defined]
        now=time.time() - 7200,
    )
    for token in (other, expired):
        response = world.http.post(
            "/consent/login",
            data={"username": USER, "password": "wrong-password", "csrf_token": token},
            headers={"Cookie": f"{HOST_LOGIN_COOKIE}={token}"},
        )
        assert response.status_code == 403
    assert hashes.calls == 0


def test_login_token_is_issued_by_the_server_into_a_host_cookie(world: World) -> None:
    page = world.http.get("/consent")
    cookie = page.headers["set-cookie"]
    assert cookie.startswith(f"{HOST_LOGIN_COOKIE}=") and "Path=/;" in cookie
    assert "Secure" in cookie and "Domain" not in cookie
    token = CSRF_RE.search(page.text).group(1)  # type: ignore[union-attr]
    secret = world.http.app.state.login_guard.secret  # type: ignore[attr-defined]
    assert login_token_ok(secret, token)
    assert not login_token_ok(secret, token + "x")
    assert not login_token_ok(secret, token, now=time.time() + 3601)


def test_concurrent_bad_logins_hash_at_most_two_at_once(world: World, hashes: Hashes) -> None:
    use_guard(world, concurrency=2, wait=5.0, waiters=16)
    hashes.seconds = 0.1

    async def attack() -> list[int]:
        async with client(world) as http:
            token = await form_token(http)
            answers = await asyncio.gather(*(post_login(http, token, f"user{n}") for n in range(8)))
            return [a.status_code for a in answers]

    assert run(attack) == [401] * 8
    assert hashes.calls == 8 and hashes.most <= 2


def test_saturated_hashing_answers_503_with_retry_after(world: World, hashes: Hashes) -> None:
    use_guard(world, concurrency=1, wait=0.05, waiters=1)
    hashes.seconds = 0.3

    async def attack() -> list[httpx.Response]:
        async with client(world) as http:
            token = await form_token(http)
            return list(
                await asyncio.gather(*(post_login(http, token, f"user{n}") for n in range(4)))
            )

    answers = run(attack)
    codes = sorted(a.status_code for a in answers)
    assert codes[0] == 401 and codes[-1] == 503
    assert all(a.headers["retry-after"] == "5" for a in answers if a.status_code == 503)
    assert hashes.most == 1 and hashes.calls == codes.count(401)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_repeated_failures_per_account_give_429_then_expire(world: World, hashes: Hashes) -> None:
    clock = Clock()
    use_guard(world, account_failures=5, address_failures=20, window=300, clock=clock)

    async def attack() -> None:
        async with client(world) as http:
            token = await form_token(http)
            for _ in range(5):
                assert (await post_login(http, token)).status_code == 401
            # Now even the right password is not checked: 429, no hashing.
            locked = await post_login(http, token, password=PASSWORD)
            assert locked.status_code == 429 and "Too many failed sign-ins" in locked.text
            assert 1 <= int(locked.headers["retry-after"]) <= 300
            assert hashes.calls == 5
            # The window expires by itself.
            clock.now += 301
            assert (await post_login(http, token, password=PASSWORD)).status_code == 303

    run(attack)


def test_failures_recorded_while_waiting_count_before_hashing(world: World, hashes: Hashes) -> None:
    use_guard(world, concurrency=1, wait=5.0, waiters=16, account_failures=5, clock=Clock())
    hashes.seconds = 0.02

    async def attack() -> list[int]:
        async with client(world) as http:
            token = await form_token(http)
            answers = await asyncio.gather(*(post_login(http, token) for _ in range(8)))
            return sorted(a.status_code for a in answers)

    assert run(attack) == [401] * 5 + [429] * 3
    assert hashes.calls == 5


def test_an_address_that_signed_in_is_not_locked_out_by_others(
    world: World, hashes: Hashes
) -> None:
    use_guard(world, clock=Clock())

    async def attack() -> None:
        async with client(world, "198.51.100.1") as user, client(world) as attacker:
            token = await form_token(user)
            assert (await post_login(user, token, password=PASSWORD)).status_code == 303
            for _ in range(5):
                assert (await post_login(attacker, token)).status_code == 401
            assert (await post_login(attacker, token, password=PASSWORD)).status_code == 429
            assert (await post_login(user, token, password=PASSWORD)).status_code == 303

    run(attack)


def test_repeated_failures_per_address_give_429(world: World, hashes: Hashes) -> None:
    use_guard(world, clock=Clock())

    async def attack() -> None:
        async with client(world) as http, client(world, "198.51.100.2") as other:
            token = await form_token(http)
            for n in range(20):
                assert (await post_login(http, token, f"name{n}")).status_code == 401
            assert (await post_login(http, token, "fresh-name")).status_code == 429
            assert (await post_login(other, token, "fresh-name")).status_code == 401

    run(attack)
    assert hashes.calls == 21


def test_password_change_ends_existing_sessions(world: World) -> None:
    page = world.http.get("/consent")
    token = CSRF_RE.search(page.text).group(1)  # type: ignore[union-attr]
    signed_in = world.http.post(
        "/consent/login",
        data={"username": USER, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    assert "Your permissions" in world.http.get("/consent").text
    add_user(world.ctx.db, USER, "a brand new password")
    # The old session cookie is still sent, but no longer works.
    assert "Sign in" in world.http.get("/consent").text
