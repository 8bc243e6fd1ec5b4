"""The consent page (MCPA-GRT-008, MCPA-GRT-027, MCPA-AUD-005): server-rendered HTML, no
JavaScript.

Pages, in the order a person meets them:

- ``GET /consent``: sign in (:mod:`.users`), then the overview of the user's grants, in
  three groups (waiting for a decision, active, ended), each with a link to its page. The
  overview has no approve button: a person decides only on a page that shows everything.
- ``GET /consent/grants/{id}`` (the ``approval_uri``): who asks, why, what it may do (each
  scope by its registered description, :mod:`.descriptions`), where, through which tools,
  with which model, for how long and what the limits mean (:mod:`.consent_words`), then
  *Approve* and *Deny* for a pending grant, *Revoke…* for an active one, and the activity:
  every audit event of the grant, saying who did what (MCPA-AUD-011).
- ``GET /consent/grants/{id}/revoke``: the confirmation step; its form posts with
  ``confirm=yes``.
- ``POST /consent/grants/{id}/{approve|deny|revoke}``: session, then CSRF token (403),
  then action and grant (404), then whether the page offers that action for the grant's
  status (409), then, for revoke, the confirmation; the change is recorded with the user
  as its actor, and the browser is sent back to the grant's page with a result message.

Agent and tools are shown by display name and ``client_id``; everything is escaped
(MCPA-GRT-017). Sessions and CSRF tokens: :mod:`.consent_session`; HTML:
:mod:`.consent_html`.
"""

from __future__ import annotations

import logging
import math
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from . import audit, grants
from . import consent_words as words
from .clients import list_clients
from .consent_html import (
    SECURITY_HEADERS,
    Lookup,
    activity,
    agent_name,
    badge,
    e,
    grant_path,
    grant_sections,
    grant_summary,
    headline,
    notice,
    page,
    post_button,
    technical_details,
)
from .consent_session import (
    SESSION_COOKIE,
    cookie_args,
    csrf_ok,
    current_session,
    end_session,
    login_cookie,
    login_guard,
    new_session,
    read_form,
    safe_next,
)
from .context import IssuerContext
from .descriptions import descriptions
from .login_guard import Busy, issue_login_token, login_token_ok
from .settings import LOGIN_FORM_LIFETIME, LOGIN_HASH_WAIT, SESSION_LIFETIME
from .users import check_password

log = logging.getLogger("mcp_auth.issuer.consent")

# The actions the page offers, by the grant status they apply to.
OFFERED = {"approve": ("pending",), "deny": ("pending",), "revoke": ("active",)}
DONE = {"approve": "approved", "deny": "denied", "revoke": "revoked"}


def lookup(ctx: IssuerContext) -> Lookup:
    """Everything the pages need to name clients, scopes and resources."""
    clients = list_clients(ctx.db)
    return Lookup(
        names={c.client_id: c.client_name for c in clients if c.client_name},
        scopes=descriptions(ctx.db, "scope"),
        resources=descriptions(ctx.db, "resource"),
        resource_names={
            c.resource: c.client_name or c.client_id for c in clients if c.resource is not None
        },
    )


# -- sign in ------------------------------------------------------------------------------
def login_page(
    request: Request,
    next_path: str = "/consent",
    error: str | None = None,
    status: int = 200,
    retry_after: int | None = None,
) -> Response:
    token = issue_login_token(login_guard(request).secret)
    message = notice("error", f"<strong>{e(error)}</strong>") if error else ""
    body = (
        f"<h1>Sign in</h1>{message}"
        '<div class="card"><p>Sign in to see and decide what AI agents may do for you.</p>'
        '<form method="post" action="/consent/login">'
        f'<input type="hidden" name="csrf_token" value="{e(token)}">'
        f'<input type="hidden" name="next" value="{e(safe_next(next_path))}">'
        '<label for="username">User name</label>'
        '<input id="username" name="username" autocomplete="username" required>'
        '<label for="password">Password</label><input id="password" name="password" '
        'type="password" autocomplete="current-password" required>'
        '<div class="actions"><button type="submit" class="button primary">Sign in</button>'
        "</div></form></div>"
    )
    response = page("Sign in", body, status)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    name, args = login_cookie(request)
    response.set_cookie(name, token, max_age=LOGIN_FORM_LIFETIME, **args)
    return response


def busy() -> Response:
    response = page(
        "Busy",
        "<h1>Too many sign-ins right now</h1><p>Please try again in a few seconds. "
        '<a href="/consent">Sign in</a>.</p>',
        503,
    )
    response.headers["Retry-After"] = str(math.ceil(LOGIN_HASH_WAIT))
    return response


def throttled(request: Request, next_path: str, wait: int) -> Response:
    message = "Too many failed sign-ins: please wait and try again."
    return login_page(request, next_path, message, 429, wait)


async def consent_login(request: Request) -> Response:
    """Form, CSRF token (403), limits (429), a hashing slot (503), then the password.

    Everything before the password check is cheap: a forged form, a throttled account or
    address and an overloaded issuer cost no scrypt run (MCPA-SEC-011 to MCPA-SEC-013).
    """
    ctx: IssuerContext = request.app.state.ctx
    guard = login_guard(request)
    form = await read_form(request)
    if form is None:
        return page("Bad request", "<h1>Bad request</h1><p>The form could not be read.</p>", 400)
    name, args = login_cookie(request)
    cookie = request.cookies.get(name)
    given = form.get("csrf_token")
    if not cookie or not csrf_ok(cookie, given) or not login_token_ok(guard.secret, given):
        return page(
            "Forbidden",
            "<h1>Please try again</h1><p>The form expired or was not sent by this page. "
            '<a href="/consent">Sign in again</a>.</p>',
            403,
        )
    username = form.get("username", "")[:65]
    password = form.get("password", "")
    next_path = safe_next(form.get("next"))
    address = request.client.host if request.client else "unknown"
    wait = guard.retry_after(username, address)
    if wait:
        log.info("consent sign-in throttled for %r from %s", username[:64], address)
        return throttled(request, next_path, wait)
    ok = False
    if len(username) <= 64:
        try:
            await guard.acquire()
        except Busy:
            log.info("consent sign-in refused: password hashing is saturated")
            return busy()
        # Failures recorded while this one waited count too: check the limits again.
        wait = guard.retry_after(username, address)
        if wait:
            guard.release()
            return throttled(request, next_path, wait)
        try:
            # scrypt takes tens of milliseconds: keep it off the event loop.
            ok = await run_in_threadpool(check_password, ctx.db, username, password)
        finally:
            guard.release()
    if not ok:
        guard.failed(username, address)
        log.info("consent sign-in failed for %r", username[:64])
        return login_page(request, next_path, "Wrong user name or password.", 401)
    guard.succeeded(username, address)
    token = new_session(ctx, username)
    response = RedirectResponse(next_path, status_code=303, headers=SECURITY_HEADERS)
    response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_LIFETIME, **cookie_args(request))
    response.delete_cookie(
        name, path=args["path"], secure=args["secure"], httponly=True, samesite="strict"
    )
    return response


async def consent_logout(request: Request) -> Response:
    ctx: IssuerContext = request.app.state.ctx
    form = await read_form(request)
    session = current_session(request)
    if session is None or form is None or not csrf_ok(session[1], form.get("csrf_token")):
        return forbidden()
    end_session(ctx, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/consent", status_code=303, headers=SECURITY_HEADERS)
    response.delete_cookie(SESSION_COOKIE, path=cookie_args(request)["path"])
    return response


def forbidden() -> Response:
    return page(
        "Forbidden",
        "<h1>Nothing was changed</h1><p>Invalid or missing CSRF token: the form was not sent "
        'by this page, or it expired. <a href="/consent">Start again</a>.</p>',
        403,
    )


# -- pages --------------------------------------------------------------------------------
GROUPS = (
    ("pending", "Waiting for your decision"),
    ("active", "Active"),
    (None, "Ended (denied, revoked or expired)"),
)


async def consent_home(request: Request) -> Response:
    ctx: IssuerContext = request.app.state.ctx
    session = current_session(request)
    if session is None:
        return login_page(request)
    user, csrf = session
    mine = grants.list_grants(ctx.db, sub=user)
    known, now = lookup(ctx), int(time.time())
    sections = []
    for status, title in GROUPS:
        chosen = [
            g for g in mine if (g.status == status if status else g.status in grants.FINAL_STATUSES)
        ]
        items = "".join(grant_summary(g, known, now) for g in chosen)
        sections.append(
            f"<h3>{e(title)}</h3>"
            + (
                f'<ul class="plain grantlist">{items}</ul>'
                if items
                else '<p class="muted"><em>None.</em></p>'
            )
        )
    intro = (
        "<h1>Your permissions</h1><p>AI agents ask here to act for you. Open a request to "
        "see exactly what it allows before you decide.</p>"
    )
    return page("Your permissions", intro + "".join(sections), user=user, csrf=csrf)


def _owned_grant(ctx: IssuerContext, grant_id: str, user: str) -> grants.Grant | None:
    grant = grants.get_grant(ctx.db, grant_id)
    return grant if grant is not None and grant.sub == user else None


def not_found(user: str, csrf: str) -> Response:
    body = '<h1>Not found</h1><p>No such grant. <a href="/consent">All permissions</a></p>'
    return page("Not found", body, 404, user=user, csrf=csrf)


def result_message(grant: grants.Grant, done: str | None, known: Lookup, now: int) -> str:
    """The message shown after an action (only fixed texts: ``done`` is a key)."""
    agent = e(agent_name(grant, known))
    if done == "approved" and grant.status == "active":
        until = e(words.lasting(grant.expires_at, now))
        return notice(
            "ok",
            f"<strong>You approved this request.</strong> {agent} can now act "
            f"for you as described below, {until}.",
        )
    if done == "denied" and grant.status == "denied":
        return notice(
            "ok", f"<strong>You denied this request.</strong> {agent} gets no permission from it."
        )
    if done == "revoked" and grant.status == "revoked":
        return notice(
            "ok",
            f"<strong>You revoked this permission.</strong> {agent} and its "
            "tools can no longer use it.",
        )
    return ""


def actions_for(grant: grants.Grant, csrf: str, known: Lookup) -> str:
    if grant.status == "pending":
        return (
            f"<p><strong>Do you allow {e(agent_name(grant, known))} to do this?</strong></p>"
            '<div class="actions">'
            + post_button(grant_path(grant.grant_id, "/approve"), csrf, "Approve", "primary")
            + post_button(grant_path(grant.grant_id, "/deny"), csrf, "Deny", "quiet")
            + "</div>"
        )
    if grant.status == "active":
        return (
            '<div class="actions"><a class="button danger" '
            f'href="{e(grant_path(grant.grant_id, "/revoke"))}">Revoke…</a></div>'
        )
    return ""


async def consent_grant(request: Request) -> Response:
    ctx: IssuerContext = request.app.state.ctx
    grant_id = request.path_params["grant_id"]
    session = current_session(request)
    if session is None:
        return login_page(request, grant_path(grant_id))
    user, csrf = session
    grant = _owned_grant(ctx, grant_id, user)
    if grant is None:
        return not_found(user, csrf)
    known, now = lookup(ctx), int(time.time())
    decide = (
        "<p>Read what it would allow, then approve or deny.</p>"
        if grant.status == "pending"
        else ""
    )
    body = (
        result_message(grant, request.query_params.get("done"), known, now)
        + f"{badge(grant.status)}<h1>{e(headline(grant, known))}</h1>{decide}"
        + f'<div class="card">{grant_sections(grant, known, now)}'
        + f"<section>{technical_details(grant)}</section></div>"
        + actions_for(grant, csrf, known)
        + "<h3>Activity</h3>"
        + activity(audit.events_for_grant(ctx.db, grant.grant_id), user, known)
    )
    return page(headline(grant, known), body, user=user, csrf=csrf)


def scope_list(grant: grants.Grant, known: Lookup) -> str:
    return ", ".join(words.scope_words(s, known.scopes).name for s in grant.scopes)


def confirm_page(grant: grants.Grant, user: str, csrf: str, known: Lookup) -> Response:
    agent = e(agent_name(grant, known))
    body = (
        f"<h1>Revoke the permission of {agent}?</h1>"
        f'<div class="card"><p>It may now: {e(scope_list(grant, known))}.</p>'
        f"<p>{agent} and the tools it passed your permission to can no longer act for you "
        "with it. Access keys they already hold stop working within minutes.</p>"
        "<p><strong>This cannot be undone</strong>: to allow it again, the agent has to ask "
        "you anew.</p></div>"
        '<div class="actions">'
        + post_button(
            grant_path(grant.grant_id, "/revoke"),
            csrf,
            "Yes, revoke",
            "danger",
            '<input type="hidden" name="confirm" value="yes">',
        )
        + f'<a class="button quiet" href="{e(grant_path(grant.grant_id))}">No, keep it</a></div>'
    )
    return page("Revoke?", body, user=user, csrf=csrf)


async def consent_confirm(request: Request) -> Response:
    """``GET /consent/grants/{id}/{action}``: the revoke confirmation; others go back."""
    ctx: IssuerContext = request.app.state.ctx
    grant_id = request.path_params["grant_id"]
    session = current_session(request)
    if session is None:
        return login_page(request, grant_path(grant_id))
    user, csrf = session
    grant = _owned_grant(ctx, grant_id, user)
    if grant is None:
        return not_found(user, csrf)
    if request.path_params["action"] != "revoke" or grant.status != "active":
        return RedirectResponse(grant_path(grant_id), status_code=303, headers=SECURITY_HEADERS)
    return confirm_page(grant, user, csrf, lookup(ctx))


def conflict(grant: grants.Grant, action: str, user: str, csrf: str) -> Response:
    if action == "revoke" and grant.status == "pending":
        text = "This request is still waiting for your decision: deny it instead."
    elif grant.status in grants.FINAL_STATUSES:
        text = f"This permission has already ended ({grant.status}); nothing was changed."
    else:
        text = f"This permission is {grant.status}; it cannot be changed that way."
    body = (
        f"<h1>Nothing was changed</h1>{notice('warn', e(text))}"
        f'<p><a href="{e(grant_path(grant.grant_id))}">Back to the permission</a></p>'
    )
    return page("Conflict", body, 409, user=user, csrf=csrf)


async def consent_action(request: Request) -> Response:
    ctx: IssuerContext = request.app.state.ctx
    grant_id = request.path_params["grant_id"]
    action = request.path_params["action"]
    form = await read_form(request)
    session = current_session(request)
    if session is None:
        return login_page(request, grant_path(grant_id), "Please sign in again.", 401)
    user, csrf = session
    if form is None or not csrf_ok(csrf, form.get("csrf_token")):
        log.warning("consent: CSRF check failed for user %r", user)
        return forbidden()
    if action not in OFFERED:
        return page("Not found", "<h1>Not found</h1><p>Unknown action.</p>", 404)
    grant = _owned_grant(ctx, grant_id, user)
    if grant is None:
        return not_found(user, csrf)
    if grant.status not in OFFERED[action]:
        return conflict(grant, action, user, csrf)
    if action == "revoke" and form.get("confirm") != "yes":
        return confirm_page(grant, user, csrf, lookup(ctx))
    after, changed = grants.transition(
        ctx.db,
        grant.grant_id,
        action,
        actor=audit.user_actor(user),
        allowed_from=OFFERED[action],
    )
    if not changed:
        return conflict(after, action, user, csrf)
    return RedirectResponse(
        grant_path(grant.grant_id, f"?done={DONE[action]}"),
        status_code=303,
        headers=SECURITY_HEADERS,
    )
