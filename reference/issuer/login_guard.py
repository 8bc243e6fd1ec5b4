"""What protects ``POST /consent/login`` from abuse (MCPA-SEC-011 to MCPA-SEC-013).

- :func:`issue_login_token` / :func:`login_token_ok`: the sign-in form's CSRF token is
  ``nonce.expiry.mac`` with an HMAC-SHA256 over both, keyed by a secret the process draws
  at start. A token the server did not issue, or an expired one, is refused before any
  password hashing, whatever cookie comes with it (MCPA-SEC-011).
- :class:`LoginGuard`: at most ``LOGIN_HASH_CONCURRENCY`` password hashes at once; a sign-in
  waits at most ``LOGIN_HASH_WAIT`` seconds for a slot and at most ``LOGIN_HASH_WAITERS``
  wait at all, the others get 503 with ``Retry-After`` (MCPA-SEC-012). Failed sign-ins are
  counted in sliding windows per account and per client address; over a limit the form
  answers 429 with ``Retry-After`` without hashing (MCPA-SEC-013). An address from which
  the account signed in successfully is not held back by the account's window (only by
  its own), so failures sent from elsewhere cannot lock the user out; the window expires
  by itself in every case. State is in memory: a restart forgets it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import math
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from .settings import (
    LOGIN_ACCOUNT_FAILURES,
    LOGIN_ADDRESS_FAILURES,
    LOGIN_FAILURE_WINDOW,
    LOGIN_FORM_LIFETIME,
    LOGIN_HASH_CONCURRENCY,
    LOGIN_HASH_WAIT,
    LOGIN_HASH_WAITERS,
    LOGIN_KNOWN_ADDRESS_TTL,
    LOGIN_TRACKED_KEYS,
)

_MAX_TOKEN_CHARS = 128


def _mac(secret: bytes, nonce: str, expiry: int) -> str:
    digest = hmac.new(secret, f"login|{nonce}|{expiry}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue_login_token(secret: bytes, now: float | None = None) -> str:
    expiry = int(now if now is not None else time.time()) + LOGIN_FORM_LIFETIME
    nonce = secrets.token_urlsafe(16)
    return f"{nonce}.{expiry}.{_mac(secret, nonce, expiry)}"


def login_token_ok(secret: bytes, token: str | None, now: float | None = None) -> bool:
    """True for an unexpired token this server issued (constant-time MAC compare)."""
    if not token or len(token) > _MAX_TOKEN_CHARS or token.count(".") != 2:
        return False
    nonce, expiry_text, mac = token.split(".")
    if not expiry_text.isdigit() or len(expiry_text) > 12:
        return False
    expiry = int(expiry_text)
    if expiry <= (now if now is not None else time.time()):
        return False
    return hmac.compare_digest(mac.encode(), _mac(secret, nonce, expiry).encode())


class Busy(Exception):
    """No hashing slot within the wait: answer 503 with ``Retry-After``."""


class _Window:
    """Failure times per key in a sliding window, with a bound on the keys kept."""

    def __init__(self, limit: int, window: float, max_keys: int) -> None:
        self.limit, self.window, self.max_keys = limit, window, max_keys
        self.times: OrderedDict[str, deque[float]] = OrderedDict()

    def _live(self, key: str, now: float) -> deque[float] | None:
        times = self.times.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self.times[key]
            return None
        return times

    def retry_after(self, key: str, now: float) -> int:
        """Seconds until ``key`` may try again; 0 when it is under its limit."""
        times = self._live(key, now)
        if times is None or len(times) < self.limit:
            return 0
        return max(1, math.ceil(times[-self.limit] + self.window - now))

    def add(self, key: str, now: float) -> None:
        times = self._live(key, now)
        if times is None:
            times = self.times[key] = deque(maxlen=self.limit)
        times.append(now)
        self.times.move_to_end(key)
        while len(self.times) > self.max_keys:
            self.times.popitem(last=False)

    def clear(self, key: str) -> None:
        self.times.pop(key, None)


class LoginGuard:
    """Per-issuer limits on sign-in work; one per app, used from the event loop only."""

    def __init__(
        self,
        *,
        concurrency: int = LOGIN_HASH_CONCURRENCY,
        wait: float = LOGIN_HASH_WAIT,
        waiters: int = LOGIN_HASH_WAITERS,
        account_failures: int = LOGIN_ACCOUNT_FAILURES,
        address_failures: int = LOGIN_ADDRESS_FAILURES,
        window: float = LOGIN_FAILURE_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.secret = secrets.token_bytes(32)
        self.slots = asyncio.Semaphore(concurrency)
        self.wait, self.max_waiters, self.waiting = wait, waiters, 0
        self.accounts = _Window(account_failures, window, LOGIN_TRACKED_KEYS)
        self.addresses = _Window(address_failures, window, LOGIN_TRACKED_KEYS)
        self.known: OrderedDict[tuple[str, str], float] = OrderedDict()
        self.clock = clock

    def retry_after(self, account: str, address: str) -> int:
        """Seconds the caller must wait before a password is checked; 0: go ahead."""
        now = self.clock()
        by_address = self.addresses.retry_after(address, now)
        seen = self.known.get((account, address))
        if seen is not None and seen > now - LOGIN_KNOWN_ADDRESS_TTL:
            return by_address
        return max(by_address, self.accounts.retry_after(account, now))

    def failed(self, account: str, address: str) -> None:
        now = self.clock()
        self.accounts.add(account, now)
        self.addresses.add(address, now)

    def succeeded(self, account: str, address: str) -> None:
        self.accounts.clear(account)
        self.known[(account, address)] = self.clock()
        self.known.move_to_end((account, address))
        while len(self.known) > LOGIN_TRACKED_KEYS:
            self.known.popitem(last=False)

    async def acquire(self) -> None:
        """A hashing slot, or :class:`Busy` after the bounded wait."""
        if self.slots.locked() and self.waiting >= self.max_waiters:
            raise Busy
        self.waiting += 1
        try:
            await asyncio.wait_for(self.slots.acquire(), self.wait)
        except TimeoutError:
            raise Busy from None
        finally:
            self.waiting -= 1

    def release(self) -> None:
        self.slots.release()
