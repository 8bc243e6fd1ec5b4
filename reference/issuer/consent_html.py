"""HTML of the consent page: one escaped string per part, no JavaScript, no templates.

Every value is escaped with :func:`e` (MCPA-GRT-017). The layout is one narrow column that
reads on a 390 px phone screen; buttons are large, the primary one filled. The page style is
inline (the Content-Security-Policy allows inline styles and nothing else).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from starlette.responses import HTMLResponse, Response

from . import chain
from . import consent_words as words
from .descriptions import Description
from .grants import Grant

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
STYLE = """
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:#1b1f24;background:#f4f6f8}
.top{background:#fff;border-bottom:1px solid #d0d7de;padding:.5rem 1rem;display:flex;
flex-wrap:wrap;gap:.25rem 1rem;align-items:center;justify-content:space-between}
.top .brand{font-weight:700}.top a{color:#0a58ca}
main{max-width:44rem;margin:0 auto;padding:1rem}
h1{font-size:1.45rem;line-height:1.25;margin:.4rem 0 .8rem}
h2{font-size:1.05rem;margin:0 0 .35rem}
h3{font-size:1rem;margin:1.2rem 0 .5rem}
p{margin:.3rem 0}
.card{background:#fff;border:1px solid #d0d7de;border-radius:12px;padding:1rem;margin:0 0 1rem}
.card>section+section{border-top:1px solid #e3e7eb;margin-top:.9rem;padding-top:.9rem}
.muted{color:#57606a}.small{font-size:.875rem}
ul.plain{list-style:none;padding:0;margin:0}ul.plain>li+li{margin-top:.6rem}
code{font-size:.85em;background:#f0f2f4;padding:0 .2rem;border-radius:4px;
overflow-wrap:anywhere}
details{margin-top:.2rem}summary{cursor:pointer;color:#57606a;font-size:.875rem}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .8rem;margin:.5rem 0;
font-size:.875rem}dl.facts dt{color:#57606a}dl.facts dd{margin:0;overflow-wrap:anywhere}
.badge{display:inline-block;padding:.1rem .6rem;border-radius:999px;font-size:.8rem;
font-weight:600;background:#eceff1;color:#3d454d}
.badge.pending{background:#fff1c7;color:#6b4400}.badge.active{background:#d8f3e0;color:#11592a}
.actions{display:flex;flex-wrap:wrap;gap:.75rem;margin:1rem 0 1.5rem;align-items:center}
.actions form{margin:0}
.button{font:inherit;font-weight:600;display:inline-block;min-height:44px;
padding:.6rem 1.3rem;border-radius:8px;border:2px solid #0a58ca;cursor:pointer;
text-decoration:none;text-align:center;background:#fff;color:#0a58ca}
.button.primary{background:#0a58ca;color:#fff}
.button.danger{background:#b42318;border-color:#b42318;color:#fff}
.button.quiet{border-color:#8c959f;color:#1b1f24}
.linkbutton{font:inherit;background:none;border:0;padding:0;color:#0a58ca;
text-decoration:underline;cursor:pointer}
.notice{border-radius:10px;padding:.75rem 1rem;margin:0 0 1rem;border:1px solid}
.notice.ok{background:#e7f6ec;border-color:#94d3a7}
.notice.error{background:#fdecea;border-color:#efa69f}
.notice.warn{background:#fff6db;border-color:#e7c66b}
label{display:block;font-weight:600;margin:.8rem 0 .25rem}
input{font:inherit;width:100%;padding:.6rem;border:1px solid #8c959f;border-radius:8px}
ol.activity{list-style:none;padding:0;margin:0}
ol.activity>li{padding:.6rem 0;border-top:1px solid #e3e7eb}
ol.activity .when{display:block;font-size:.8rem;color:#57606a}
.grantlist>li{background:#fff;border:1px solid #d0d7de;border-radius:12px;padding:1rem;
margin:0 0 .8rem}
@media (max-width:30rem){main{padding:.75rem}.actions{flex-direction:column;
align-items:stretch}.actions .button,.actions form{width:100%}}
"""
STATUS_TEXT = {
    "pending": "Waiting for your decision",
    "active": "Active",
    "denied": "Denied",
    "revoked": "Revoked",
    "expired": "Expired",
}


def e(value: object) -> str:
    """HTML-escape anything (quotes included)."""
    return html.escape("" if value is None else str(value), quote=True)


def grant_path(grant_id: str, tail: str = "") -> str:
    return f"/consent/grants/{quote(grant_id, safe='')}{tail}"


def page(
    title: str,
    body: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    *,
    user: str | None = None,
    csrf: str | None = None,
) -> Response:
    top = '<span class="brand">MCP-Auth · your permissions</span>'
    if user is not None and csrf is not None:
        top += (
            f'<span class="small">Signed in as <strong>{e(user)}</strong> · '
            '<a href="/consent">All permissions</a> · '
            '<form method="post" action="/consent/logout" style="display:inline">'
            f'<input type="hidden" name="csrf_token" value="{e(csrf)}">'
            '<button type="submit" class="linkbutton">Sign out</button></form></span>'
        )
    text = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)} · MCP-Auth</title><style>{STYLE}</style></head><body>"
        f'<header class="top">{top}</header><main>{body}</main></body></html>'
    )
    return HTMLResponse(text, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})


def notice(kind: str, text_html: str) -> str:
    role = "alert" if kind == "error" else "status"
    return f'<div class="notice {e(kind)}" role="{role}">{text_html}</div>'


def client_label(client_id: str, names: dict[str, str]) -> str:
    """``Name (<code>client_id</code>)`` when the client has a registered display name."""
    code = f"<code>{e(client_id)}</code>"
    name = names.get(client_id)
    return f"{e(name)} ({code})" if name else code


def post_button(action: str, csrf: str, label: str, css: str, extra: str = "") -> str:
    return (
        f'<form method="post" action="{e(action)}">'
        f'<input type="hidden" name="csrf_token" value="{e(csrf)}">{extra}'
        f'<button type="submit" class="button {e(css)}">{e(label)}</button></form>'
    )


# -- what a grant says, in words ----------------------------------------------------------
@dataclass(frozen=True)
class Lookup:
    """Display names and descriptions the issuer knows, for rendering grants."""

    names: dict[str, str]  # client_id -> client_name
    scopes: dict[str, Description]
    resources: dict[str, Description]
    resource_names: dict[str, str]  # resource URI -> the registered client's display name


def agent_name(grant: Grant, lookup: Lookup) -> str:
    return lookup.names.get(grant.client_id, grant.client_id)


def _named_item(item: words.Named, what: str) -> str:
    text = f"<strong>{e(item.name)}</strong>"
    if item.description:
        text += f'<br><span class="muted">{e(item.description)}</span>'
    elif not item.described:
        text += f'<br><span class="muted small">The issuer has no description of this {what}.'
        text += "</span>"
    return text + f"<details><summary>Technical name</summary><code>{e(item.raw)}</code></details>"


def scope_items(grant: Grant, lookup: Lookup) -> str:
    items = [words.scope_words(s, lookup.scopes) for s in grant.scopes]
    return (
        '<ul class="plain">'
        + "".join(f"<li>{_named_item(i, 'permission')}</li>" for i in items)
        + "</ul>"
    )


def resource_items(grant: Grant, lookup: Lookup) -> str:
    items = [
        words.resource_words(r, lookup.resources, lookup.resource_names.get(r))
        for r in grant.resources
    ]
    return (
        '<ul class="plain">'
        + "".join(f"<li>{_named_item(i, 'service')}</li>" for i in items)
        + "</ul>"
    )


def tool_items(grant: Grant, lookup: Lookup) -> str:
    if not grant.tools:
        return "<p>None: no tool may receive your permission.</p>"
    return (
        '<ul class="plain">'
        + "".join(f"<li>{client_label(t, lookup.names)}</li>" for t in grant.tools)
        + "</ul>"
    )


def headline(grant: Grant, lookup: Lookup) -> str:
    agent = agent_name(grant, lookup)
    return {
        "pending": f"{agent} asks for your permission",
        "active": f"{agent} has your permission",
        "denied": f"You denied {agent} this permission",
        "revoked": f"The permission of {agent} was revoked",
        "expired": f"The permission of {agent} has ended",
    }.get(grant.status, agent)


def badge(status: str) -> str:
    css = status if status in ("pending", "active") else "ended"
    return f'<span class="badge {css}">{e(STATUS_TEXT.get(status, status))}</span>'


def grant_sections(grant: Grant, lookup: Lookup, now: int) -> str:
    """The card of a grant's detail page: who, why, what, where, how, how long, limits."""
    agent = lookup.names.get(grant.client_id)
    who = (
        f"<p><strong>{e(agent)}</strong>, an AI agent registered with this issuer "
        f"(<code>{e(grant.client_id)}</code>).</p>"
        if agent
        else f"<p>The AI agent <code>{e(grant.client_id)}</code> (it has no display name).</p>"
    )
    purpose = (
        f'<p>“{e(grant.purpose)}”</p><p class="muted small">In the agent\'s own words '
        "(stated by the agent, not verified by the issuer).</p>"
        if grant.purpose
        else '<p class="muted">The agent did not say.</p>'
    )
    model_intro = "this AI model" if len(grant.models) == 1 else "one of these AI models"
    models = ", ".join(f"<strong>{e(m)}</strong>" for m in grant.models)
    if grant.status in ("pending", "active"):
        how_long = words.lasting(grant.expires_at, now)
        how_long = (
            f"<p>{e(words.capital(how_long))}.</p>"
            '<p class="muted small">You can revoke it at any time on this page.</p>'
        )
    else:
        ended = STATUS_TEXT.get(grant.status, grant.status).lower()
        how_long = f"<p>It has ended: {e(ended)}.</p>"
    sections = [
        ("Who asks" if grant.status == "pending" else "Who", who),
        ("Why", purpose),
        ("What it may do", scope_items(grant, lookup)),
        ("On which services", resource_items(grant, lookup)),
        ("Through which tools", tool_items(grant, lookup)),
        ("With which AI model", f"<p>Only with {model_intro}: {models}.</p>"),
        ("For how long", how_long),
        (
            "Limits",
            f"<p>{e(words.tools_limit(grant.max_depth, len(grant.tools)))}</p>"
            f"<p>{e(words.lifetime_limit(grant.max_token_lifetime))}</p>",
        ),
    ]
    return "".join(f"<section><h2>{e(t)}</h2>{body}</section>" for t, body in sections)


def technical_details(grant: Grant) -> str:
    rows = [
        ("Grant", f"<code>{e(grant.grant_id)}</code>"),
        ("Status", f"<code>{e(grant.status)}</code>"),
        ("For user", e(grant.sub)),
        ("Agent", f"<code>{e(grant.client_id)}</code>"),
        ("max_depth", e(grant.max_depth)),
        ("max_token_lifetime", f"{e(grant.max_token_lifetime)} s"),
        ("Created", e(words.date_text(grant.created_at))),
        ("Expires", e(words.date_text(grant.expires_at))),
    ]
    for label, value in (
        ("Approved", grant.approved_at),
        ("Denied", grant.denied_at),
        ("Revoked", grant.revoked_at),
    ):
        if value is not None:
            rows.append((label, e(words.date_text(value))))
    facts = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    return f'<details><summary>Technical details</summary><dl class="facts">{facts}</dl></details>'


def grant_summary(grant: Grant, lookup: Lookup, now: int) -> str:
    """One entry of the overview: who, what (in words), until when, and where to decide."""
    scopes = [words.scope_words(s, lookup.scopes).name for s in grant.scopes]
    shown = ", ".join(scopes[:3]) + (f" and {len(scopes) - 3} more" if len(scopes) > 3 else "")
    link = {
        "pending": ("Review and decide", "primary"),
        "active": ("See details or revoke", "quiet"),
    }.get(grant.status, ("See details", "quiet"))
    verb = {"pending": "Wants to", "active": "May"}.get(grant.status, "Asked to")
    label = "" if grant.status in ("pending", "active") else badge(grant.status)
    when = (
        f'<p class="small muted">{e(words.capital(words.lasting(grant.expires_at, now)))}</p>'
        if grant.status in ("pending", "active")
        else ""
    )
    return (
        f"<li>{label}<h2>{e(agent_name(grant, lookup))}</h2>"
        f"<p>{e(verb)}: {e(shown)}</p>{when}"
        f'<p style="margin-top:.6rem"><a class="button {link[1]}" '
        f'href="{e(grant_path(grant.grant_id))}">{e(link[0])}</a></p></li>'
    )


# -- activity -----------------------------------------------------------------------------
def _event_time(value: object) -> str:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return e(value)
    return e(words.short_date(int(moment.timestamp())))


def activity(events: list[dict[str, Any]], user: str, lookup: Lookup) -> str:
    """Every event of the grant, newest last, each saying who did what (MCPA-AUD-005)."""
    if not events:
        return "<p><em>No activity yet.</em></p>"
    items = []
    for ev in events:
        detail = []
        resource = ev.get("resource")
        if isinstance(resource, str):
            item = words.resource_words(
                resource, lookup.resources, lookup.resource_names.get(resource)
            )
            detail.append(f"for {e(item.name)}")
        if ev.get("act") is not None:
            detail.append(f"chain: {e(words.chain_words(ev.get('act'), lookup.names))}")
        if ev.get("error"):
            detail.append(f"reason: <code>{e(ev.get('error'))}</code>")
        facts = [
            ("Event", f"<code>{e(ev.get('type'))}</code> #{e(ev.get('seq'))}"),
            ("Actor", f"<code>{e(ev.get('actor'))}</code>"),
            ("Client", f"<code>{e(ev.get('client_id'))}</code>"),
        ]
        if ev.get("scope"):
            facts.append(("Scope", f"<code>{e(ev.get('scope'))}</code>"))
        if ev.get("act") is not None:
            facts.append(("Chain", f"<code>{e(chain_text(ev.get('act')))}</code>"))
        facts_html = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
        items.append(
            f'<li><span class="when">{_event_time(ev.get("time"))}</span>'
            f"{e(words.event_sentence(ev, user, lookup.names))}"
            + (f'<div class="small muted">{"; ".join(detail)}</div>' if detail else "")
            + f'<details><summary>Technical details</summary><dl class="facts">{facts_html}'
            "</dl></details></li>"
        )
    return '<ol class="activity">' + "".join(items) + "</ol>"


def chain_text(act: object) -> str:
    """``agent:A (model M) → tool:T`` (first actor first), the raw form; a hop's
    ``mcpa_model`` is shown with it."""
    hops: list[str] = []
    for hop in chain.display_hops(act, limit=16):
        model = hop.get("mcpa_model")
        used = f" (model {model})" if isinstance(model, str) else ""
        hops.append(f"{hop.get('actor_type')}:{hop.get('sub')}{used}")
    return " → ".join(hops)
