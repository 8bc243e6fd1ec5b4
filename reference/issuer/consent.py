"""The consent page (MCPA-GRT-008, MCPA-AUD-005): server-rendered HTML, no JavaScript.

The agent and the tools of a grant are shown by ``client_id`` and, when the operator
registered one, their display name (``client_name``), escaped like every other value
(MCPA-GRT-017).

A user signs in with a local account (:mod:`.users`); the session cookie is random,
HttpOnly, SameSite=Strict and stored hashed. Every form carries a CSRF token: the
session's for signed-in forms, a double-submit cookie for the sign-in form. Pages show
the user's grants with every field, let them approve or deny pending grants and revoke
pending or active ones, and show each grant's audit events. Everything is escaped.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
import secrets
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..errors import OAuthError
from . import audit, grants
from .clients import get_client
from .context import IssuerContext
from .http import decode_form, read_body
from .settings import SESSION_LIFETIME
from .users import check_password

log = logging.getLogger("mcp_auth.issuer.consent")

SESSION_COOKIE = "mcpa_session"
LOGIN_COOKIE = "mcpa_login_csrf"
COOKIE_PATH = "/consent"
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
    "table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.3rem;"
    "text-align:left;vertical-align:top}form.inline{display:inline}"
    ".status{font-weight:bold}button{margin:.2rem}"
)


def e(value: object) -> str:
    """HTML-escape anything (quotes included)."""
    return html.escape("" if value is None else str(value), quote=True)


def fmt_time(value: int | None) -> str:
    if value is None:
        return ""
    return datetime.fromtimestamp(value, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def chain_text(act: object) -> str:
    """``agent:A (model M) → tool:T`` (first actor first; a hop's ``mcpa_model`` with it)."""
    hops: list[str] = []
    node = act
    while isinstance(node, dict) and len(hops) < 16:
        model = node.get("mcpa_model")
        used = f" (model {model})" if isinstance(model, str) else ""
        hops.append(f"{node.get('actor_type')}:{node.get('sub')}{used}")
        node = node.get("act")
    return " → ".join(reversed(hops))


def page(
    title: str, body: str, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    text = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(title)} · MCP-Auth</title><style>{STYLE}</style></head><body>"
        f"<h1>{e(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(text, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})


# -- sessions -----------------------------------------------------------------------------
def _session_id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def current_session(request: Request) -> tuple[str, str] | None:
    """(user, csrf token) of a valid session cookie, else None."""
    ctx: IssuerContext = request.app.state.ctx
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 128:
        return None
    row = ctx.db.query_one(
        "SELECT user, csrf, expires_at FROM sessions WHERE id = ?", (_session_id(token),)
    )
    if row is None or row["expires_at"] <= int(time.time()):
        return None
    return str(row["user"]), str(row["csrf"])


def _csrf_ok(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def _cookie_args(request: Request) -> dict[str, Any]:
    ctx: IssuerContext = request.app.state.ctx
    return {
        "path": COOKIE_PATH,
        "httponly": True,
        "samesite": "strict",
        "secure": ctx.settings.secure_cookies,
    }


async def _form(request: Request) -> dict[str, str] | None:
    try:
        return decode_form(await read_body(request))
    except OAuthError:
        return None


def _safe_next(value: str | None) -> str:
    if value and value.startswith("/consent") and "//" not in value and "\\" not in value:
        return value
    return "/consent"


# -- pages --------------------------------------------------------------------------------
def login_page(
    request: Request, next_path: str = "/consent", error: str | None = None, status: int = 200
) -> Response:
    token = secrets.token_urlsafe(24)
    message = f'<p role="alert"><strong>{e(error)}</strong></p>' if error else ""
    body = (
        f'{message}<form method="post" action="/consent/login">'
        f'<input type="hidden" name="csrf_token" value="{e(token)}">'
        f'<input type="hidden" name="next" value="{e(_safe_next(next_path))}">'
        '<p><label>User name <input name="username" autocomplete="username" required>'
        '</label></p><p><label>Password <input name="password" type="password" '
        'autocomplete="current-password" required></label></p>'
        '<p><button type="submit">Sign in</button></p></form>'
    )
    response = page("Sign in", body, status)
    response.set_cookie(LOGIN_COOKIE, token, max_age=3600, **_cookie_args(request))
    return response


def _action_form(grant_id: str, action: str, csrf: str, label: str) -> str:
    return (
        f'<form class="inline" method="post" action="/consent/grants/{e(quote(grant_id))}'
        f'/{e(action)}"><input type="hidden" name="csrf_token" value="{e(csrf)}">'
        f'<button type="submit" name="action" value="{e(action)}">{e(label)}</button>'
        "</form>"
    )


def _actions(grant: grants.Grant, csrf: str) -> str:
    parts = []
    if grant.status == "pending":
        parts.append(_action_form(grant.grant_id, "approve", csrf, "Approve"))
        parts.append(_action_form(grant.grant_id, "deny", csrf, "Deny"))
    if grant.status in ("pending", "active"):
        parts.append(_action_form(grant.grant_id, "revoke", csrf, "Revoke"))
    return "".join(parts)


def _list(values: tuple[str, ...]) -> str:
    if not values:
        return "<em>none</em>"
    return "<ul>" + "".join(f"<li><code>{e(v)}</code></li>" for v in values) + "</ul>"


def client_label(client_id: str, names: dict[str, str]) -> str:
    """``Name (<code>client_id</code>)`` when the client has a registered display name."""
    code = f"<code>{e(client_id)}</code>"
    name = names.get(client_id)
    return f"{e(name)} ({code})" if name else code


def client_names(ctx: IssuerContext, client_ids: list[str] | tuple[str, ...]) -> dict[str, str]:
    """The registered display names (``client_name``) of these clients, where they have one."""
    names: dict[str, str] = {}
    for client_id in set(client_ids):
        client = get_client(ctx.db, client_id)
        if client is not None and client.client_name:
            names[client_id] = client.client_name
    return names


def grant_table(grant: grants.Grant, names: dict[str, str] | None = None) -> str:
    known = names or {}
    tools = (
        "<ul>" + "".join(f"<li>{client_label(t, known)}</li>" for t in grant.tools) + "</ul>"
        if grant.tools
        else "<em>none</em>"
    )
    rows = [
        ("Grant", f"<code>{e(grant.grant_id)}</code>"),
        ("Status", f'<span class="status">{e(grant.status)}</span>'),
        ("Agent (client)", client_label(grant.client_id, known)),
        ("For user", e(grant.sub)),
        (
            "Purpose",
            f"{e(grant.purpose)} <em>(stated by the agent, not verified by the issuer)</em>"
            if grant.purpose
            else "<em>not given</em>",
        ),
        ("Resources", _list(grant.resources)),
        ("Scopes", _list(grant.scopes)),
        ("Tools (may exchange)", tools),
        ("Models", _list(grant.models)),
        ("Maximum chain depth", e(grant.max_depth)),
        ("Maximum token lifetime", f"{e(grant.max_token_lifetime)} s"),
        ("Created", e(fmt_time(grant.created_at))),
        ("Expires", e(fmt_time(grant.expires_at))),
    ]
    if grant.approved_at is not None:
        rows.append(("Approved", e(fmt_time(grant.approved_at))))
    if grant.denied_at is not None:
        rows.append(("Denied", e(fmt_time(grant.denied_at))))
    if grant.revoked_at is not None:
        rows.append(("Revoked", e(fmt_time(grant.revoked_at))))
    return "<table>" + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows) + "</table>"


def events_table(events: list[dict[str, Any]]) -> str:
    if not events:
        return "<p><em>No activity yet.</em></p>"
    head = "<tr><th>#</th><th>Time</th><th>Event</th><th>Client</th><th>Chain</th>"
    head += "<th>Resource</th><th>Scope</th><th>Error</th></tr>"
    rows = "".join(
        f"<tr><td>{e(ev.get('seq'))}</td><td>{e(ev.get('time'))}</td><td>{e(ev.get('type'))}"
        f"</td><td>{e(ev.get('client_id'))}</td><td>{e(chain_text(ev.get('act')))}</td>"
        f"<td>{e(ev.get('resource'))}</td><td>{e(ev.get('scope'))}</td>"
        f"<td>{e(ev.get('error'))}</td></tr>"
        for ev in events
    )
    return f"<table>{head}{rows}</table>"


def _header(user: str, csrf: str) -> str:
    return (
        f"<p>Signed in as <strong>{e(user)}</strong>. "
        '<form class="inline" method="post" action="/consent/logout">'
        f'<input type="hidden" name="csrf_token" value="{e(csrf)}">'
        '<button type="submit">Sign out</button></form> · <a href="/consent">All grants</a></p>'
    )


async def consent_home(request: Request) -> Response:
    ctx: IssuerContext = request.app.state.ctx
    session = current_session(request)
    if session is None:
        return login_page(request)
    user, csrf = session
    mine = grants.list_grants(ctx.db, sub=user)
    names = client_names(ctx, [g.client_id for g in mine])
    sections = []
    for status, title in (
        ("pending", "Waiting for your decision"),
        ("active", "Active"),
        (None, "Ended (denied, revoked, expired)"),
    ):
        chosen = [
            g for g in mine if (g.status == status if status else g.status in grants.FINAL_STATUSES)
        ]
        items = "".join(
            f'<li><a href="/consent/grants/{e(quote(g.grant_id))}"><code>{e(g.grant_id)}'
            f"</code></a> — agent {client_label(g.client_id, names)}, scopes "
            f"<code>{e(' '.join(g.scopes))}</code>, status {e(g.status)} "
            f"{_actions(g, csrf)}</li>"
            for g in chosen
        )
        sections.append(
            f"<h2>{e(title)}</h2>" + (f"<ul>{items}</ul>" if items else "<p><em>None.</em></p>")
        )
    return page("Your grants", _header(user, csrf) + "".join(sections))


async def consent_grant(request: Request) -> Response:
    ctx: IssuerContext = request.app.state.ctx
    grant_id = request.path_params["grant_id"]
    session = current_session(request)
    if session is None:
        return login_page(request, f"/consent/grants/{quote(grant_id)}")
    user, csrf = session
    grant = grants.get_grant(ctx.db, grant_id)
    if grant is None or grant.sub != user:
        return page("Not found", _header(user, csrf) + "<p>No such grant.</p>", 404)
    body = (
        _header(user, csrf)
        + grant_table(grant, client_names(ctx, [grant.client_id, *grant.tools]))
        + f"<p>{_actions(grant, csrf)}</p>"
        + "<h2>Activity</h2>"
        + events_table(audit.events_for_grant(ctx.db, grant.grant_id))
    )
    return page("Grant", body)


async def consent_login(request: Request) -> Response:
    ctx: IssuerContext = request.app.state.ctx
    form = await _form(request)
    if form is None:
        return page("Bad request", "<p>The form could not be read.</p>", 400)
    cookie = request.cookies.get(LOGIN_COOKIE)
    if not cookie or not _csrf_ok(cookie, form.get("csrf_token")):
        return page(
            "Forbidden",
            "<p>The form expired or was not sent by this page. "
            '<a href="/consent">Try again</a>.</p>',
            403,
        )
    username = form.get("username", "")
    password = form.get("password", "")
    next_path = _safe_next(form.get("next"))
    # scrypt takes tens of milliseconds: keep it off the event loop.
    if len(username) > 64 or not await run_in_threadpool(
        check_password, ctx.db, username, password
    ):
        log.info("consent sign-in failed for %r", username[:64])
        return login_page(request, next_path, "Wrong user name or password.", 401)
    token = secrets.token_urlsafe(32)
    now = int(time.time())
    with ctx.db.transaction() as conn:
        conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
        conn.execute(
            "INSERT INTO sessions (id, user, csrf, expires_at) VALUES (?, ?, ?, ?)",
            (_session_id(token), username, secrets.token_urlsafe(32), now + SESSION_LIFETIME),
        )
    response = RedirectResponse(next_path, status_code=303, headers=SECURITY_HEADERS)
    response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_LIFETIME, **_cookie_args(request))
    response.delete_cookie(LOGIN_COOKIE, path=COOKIE_PATH)
    return response


async def consent_logout(request: Request) -> Response:
    ctx: IssuerContext = request.app.state.ctx
    form = await _form(request)
    session = current_session(request)
    if session is None or form is None or not _csrf_ok(session[1], form.get("csrf_token")):
        return page("Forbidden", "<p>Invalid or missing CSRF token.</p>", 403)
    token = request.cookies.get(SESSION_COOKIE, "")
    with ctx.db.transaction() as conn:
        conn.execute("DELETE FROM sessions WHERE id = ?", (_session_id(token),))
    response = RedirectResponse("/consent", status_code=303, headers=SECURITY_HEADERS)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


async def consent_action(request: Request) -> Response:
    ctx: IssuerContext = request.app.state.ctx
    grant_id = request.path_params["grant_id"]
    action = request.path_params["action"]
    form = await _form(request)
    session = current_session(request)
    if session is None:
        return login_page(
            request, f"/consent/grants/{quote(grant_id)}", "Please sign in again.", 401
        )
    user, csrf = session
    if form is None or not _csrf_ok(csrf, form.get("csrf_token")):
        log.warning("consent: CSRF check failed for user %r", user)
        return page("Forbidden", "<p>Invalid or missing CSRF token.</p>", 403)
    if action not in grants.TRANSITIONS:
        return page("Not found", "<p>Unknown action.</p>", 404)
    grant = grants.get_grant(ctx.db, grant_id)
    if grant is None or grant.sub != user:
        return page("Not found", "<p>No such grant.</p>", 404)
    _, changed = grants.transition(ctx.db, grant.grant_id, action)
    if not changed:
        return page(
            "Conflict",
            _header(user, csrf) + f"<p>This grant is {e(grant.status)}; "
            f"it cannot be changed that way.</p>",
            409,
        )
    return RedirectResponse(
        f"/consent/grants/{quote(grant.grant_id)}", status_code=303, headers=SECURITY_HEADERS
    )
