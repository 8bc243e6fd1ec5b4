"""Consent-page sessions and CSRF tokens.

The session cookie is random, HttpOnly, SameSite=Strict (Secure on https) and stored
hashed. Every signed-in form carries the session's CSRF token. The sign-in form's token
is issued by the server (an HMAC, :mod:`.login_guard`) and must also equal the login cookie
(MCPA-GRT-008, MCPA-SEC-011). That cookie is ``__Host-mcpa_login_csrf`` (Secure, Path=/,
no Domain, so a sibling host cannot toss one in) when the issuer runs over https, and
``mcpa_login_csrf`` on loopback http, where browsers refuse ``__Host-`` cookies.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any

from starlette.requests import Request

from ..errors import OAuthError
from .context import IssuerContext
from .http import decode_form, read_body
from .login_guard import LoginGuard
from .settings import SESSION_LIFETIME

SESSION_COOKIE = "mcpa_session"
LOGIN_COOKIE = "mcpa_login_csrf"
HOST_LOGIN_COOKIE = "__Host-" + LOGIN_COOKIE
COOKIE_PATH = "/consent"


def session_id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def current_session(request: Request) -> tuple[str, str] | None:
    """(user, csrf token) of a valid session cookie, else None."""
    ctx: IssuerContext = request.app.state.ctx
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 128:
        return None
    row = ctx.db.query_one(
        "SELECT user, csrf, expires_at FROM sessions WHERE id = ?", (session_id(token),)
    )
    if row is None or row["expires_at"] <= int(time.time()):
        return None
    return str(row["user"]), str(row["csrf"])


def new_session(ctx: IssuerContext, user: str) -> str:
    """Store a new session for ``user``; returns the cookie value."""
    token = secrets.token_urlsafe(32)
    now = int(time.time())
    with ctx.db.transaction() as conn:
        conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
        conn.execute(
            "INSERT INTO sessions (id, user, csrf, expires_at) VALUES (?, ?, ?, ?)",
            (session_id(token), user, secrets.token_urlsafe(32), now + SESSION_LIFETIME),
        )
    return token


def end_session(ctx: IssuerContext, token: str) -> None:
    with ctx.db.transaction() as conn:
        conn.execute("DELETE FROM sessions WHERE id = ?", (session_id(token),))


def csrf_ok(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def cookie_args(request: Request) -> dict[str, Any]:
    ctx: IssuerContext = request.app.state.ctx
    return {
        "path": COOKIE_PATH,
        "httponly": True,
        "samesite": "strict",
        "secure": ctx.settings.secure_cookies,
    }


def login_cookie(request: Request) -> tuple[str, dict[str, Any]]:
    """Name and attributes of the sign-in form's CSRF cookie (``__Host-`` on https)."""
    args = cookie_args(request)
    if args["secure"]:
        return HOST_LOGIN_COOKIE, {**args, "path": "/"}
    return LOGIN_COOKIE, args


def login_guard(request: Request) -> LoginGuard:
    """The app's one :class:`LoginGuard`, made on first use."""
    guard: LoginGuard | None = getattr(request.app.state, "login_guard", None)
    if guard is None:
        guard = request.app.state.login_guard = LoginGuard()
    return guard


async def read_form(request: Request) -> dict[str, str] | None:
    try:
        return decode_form(await read_body(request))
    except OAuthError:
        return None


def safe_next(value: str | None) -> str:
    if value and value.startswith("/consent") and "//" not in value and "\\" not in value:
        return value
    return "/consent"
