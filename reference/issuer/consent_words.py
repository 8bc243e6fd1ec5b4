"""Plain words for the consent page: durations, dates, limits, scopes, resources, events.

Everything here returns plain text (not HTML); the caller escapes it. Nothing depends on
how the chain is encoded: the number of tools a grant lets the permission pass through is
``max_depth`` minus the depth of a freshly issued token, whatever hops that token has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from . import chain
from .descriptions import Description

MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def duration(seconds: int) -> str:
    """``5 minutes``, ``1 day 6 hours``, ``7 days``: rounded to the nearest unit that reads.

    From three units on only the large unit is given (``7 days``, not ``6 days 23 hours``
    a second after a 7-day grant was created); below that, one smaller unit is added.
    """
    text = _duration(seconds)
    return {"60 minutes": "1 hour", "24 hours": "1 day"}.get(text, text)


def _duration(seconds: int) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return plural(seconds, "second")
    for size, word, small, small_word in (
        (86400, "day", 3600, "hour"),
        (3600, "hour", 60, "minute"),
    ):
        if seconds >= size * 3 - size // 2:
            return plural((seconds + size // 2) // size, word)
        if seconds >= size:
            whole, rest = divmod(seconds, size)
            parts = (rest + small // 2) // small
            if parts * small >= size:
                whole, parts = whole + 1, 0
            return plural(whole, word) + (f" {plural(parts, small_word)}" if parts else "")
    return plural((seconds + 30) // 60, "minute")


def date_text(value: int) -> str:
    """``Tuesday 15 December 2026, 14:05 UTC`` (the year is always given)."""
    stamp = datetime.fromtimestamp(value, tz=UTC)
    return (
        f"{DAYS[stamp.weekday()]} {stamp.day} {MONTHS[stamp.month - 1]} {stamp.year}, "
        f"{stamp:%H:%M} UTC"
    )


def short_date(value: int) -> str:
    """``15 Dec 2026, 14:05`` for the activity list."""
    stamp = datetime.fromtimestamp(value, tz=UTC)
    return f"{stamp.day} {MONTHS[stamp.month - 1][:3]} {stamp.year}, {stamp:%H:%M} UTC"


def lasting(expires_at: int, now: int) -> str:
    """``for 7 days, until Tuesday 15 December 2026, 14:05 UTC``."""
    if expires_at <= now:
        return f"until {date_text(expires_at)} (that time has passed)"
    return f"for {duration(expires_at - now)}, until {date_text(expires_at)}"


def first_depth() -> int:
    """Depth of a freshly issued token (the agent and whatever the format adds)."""
    return chain.depth(chain.issuance_chain("agent", "model"))


def tools_limit(max_depth: int, tools: int) -> str:
    """What ``max_depth`` means: how many tools the permission may pass through."""
    hops = max(0, max_depth - first_depth())
    if hops == 0 or tools == 0:
        return "Only the agent itself can use your permission; it cannot pass it on to a tool."
    if hops == 1:
        return "The agent can pass your permission on to one tool, which cannot pass it further."
    return (
        f"The agent can pass your permission on through at most {hops} tools, one after "
        "another; each tool gets no more than the one before it."
    )


def lifetime_limit(seconds: int) -> str:
    """What ``max_token_lifetime`` means."""
    return (
        f"Each access key it receives works for at most {duration(seconds)}; then it must "
        "ask again, and after you revoke it gets none."
    )


@dataclass(frozen=True)
class Named:
    """A thing to show: its plain name, an optional description, and the raw value."""

    name: str
    description: str | None
    raw: str
    described: bool


def scope_words(scope: str, known: dict[str, Description]) -> Named:
    item = known.get(scope)
    if item is None:
        return Named(f"“{scope}”", None, scope, False)
    return Named(item.name, item.description, scope, True)


def resource_words(uri: str, known: dict[str, Description], client_name: str | None) -> Named:
    item = known.get(uri)
    if item is not None:
        return Named(item.name, item.description, uri, True)
    if client_name:
        return Named(client_name, None, uri, True)
    host = urlsplit(uri).hostname or uri
    return Named(f"a service at {host}", None, uri, False)


# -- the activity list --------------------------------------------------------------------
def actor_words(actor: object, user: str, names: dict[str, str]) -> str:
    """``You``, ``An administrator``, a client's display name, ``The issuer``."""
    if not isinstance(actor, dict):
        return "Someone (not recorded)"
    kind, ident = actor.get("type"), actor.get("id")
    if kind == "user":
        return "You" if ident == user else f"User {ident}"
    if kind == "admin":
        return "An administrator"
    if kind == "client":
        return names.get(str(ident), str(ident))
    if kind == "issuer":
        return "The issuer"
    return "Someone (not recorded)"


EVENT_VERBS = {
    "grant.created": "asked for this permission",
    "grant.approved": "approved it",
    "grant.denied": "denied it",
    "grant.revoked": "revoked it",
    "grant.expired": "ended it: its time ran out",
    "token.issued": "received an access key",
    "token.exchanged": "passed the permission on and received an access key",
    "token.refused": "asked for an access key and was refused",
    "token.revoked": "gave back an access key",
}


def event_sentence(event: dict[str, Any], user: str, names: dict[str, str]) -> str:
    """``You approved it.``, ``MCP-Auth demo agent received an access key.``."""
    who = actor_words(event.get("actor"), user, names)
    kind = str(event.get("type"))
    verb = EVENT_VERBS.get(kind, kind)
    actor = event.get("actor")
    if kind == "grant.created" and isinstance(actor, dict) and actor.get("type") == "admin":
        verb = "gave this permission on your behalf"
    return f"{who} {verb}."


def chain_words(act: object, names: dict[str, str]) -> str:
    """``Demo agent (model demo-model) → Demo tool 1``, first actor first (``chain.labels``)."""
    return " → ".join(chain.labels(act, names, limit=16))
