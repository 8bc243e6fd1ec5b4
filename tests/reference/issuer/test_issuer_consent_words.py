"""Plain words of the consent page: durations, dates, limits, actors and chains."""

from __future__ import annotations

import pytest

from mcp_auth.reference.issuer import consent_words as words
from mcp_auth.reference.issuer.descriptions import Description


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (1, "1 second"),
        (45, "45 seconds"),
        (60, "1 minute"),
        (300, "5 minutes"),
        (3599, "1 hour"),
        (5400, "1 hour 30 minutes"),
        (86399, "1 day"),
        (90000, "1 day 1 hour"),
        (7 * 86400 - 1, "7 days"),  # a second after a 7-day grant was made
        (30 * 86400, "30 days"),
    ],
)
def test_duration(seconds: int, text: str) -> None:
    assert words.duration(seconds) == text


def test_lasting_and_dates() -> None:
    expires = 1_797_343_500  # Tuesday 15 December 2026, 14:05 UTC
    assert words.date_text(expires) == "Tuesday 15 December 2026, 14:05 UTC"
    assert words.lasting(expires, expires - 7 * 86400).startswith(
        "for 7 days, until Tuesday 15 December 2026"
    )
    assert "has passed" in words.lasting(expires, expires + 1)


def test_tools_limit_counts_tools_not_hops() -> None:
    base = words.first_depth()
    assert "at most 3 tools" in words.tools_limit(base + 3, tools=3)
    assert "to one tool" in words.tools_limit(base + 1, tools=3)
    assert "cannot pass it on" in words.tools_limit(base, tools=3)
    assert "cannot pass it on" in words.tools_limit(base + 3, tools=0)
    assert "5 minutes" in words.lifetime_limit(300)


def test_scope_and_resource_words() -> None:
    known = {"a:b": Description("scope", "a:b", "Do A", "All of A.")}
    assert words.scope_words("a:b", known) == words.Named("Do A", "All of A.", "a:b", True)
    assert words.scope_words("c", known).described is False
    assert words.resource_words("https://x.test/mcp", {}, "Files tool").name == "Files tool"
    assert words.resource_words("https://x.test/mcp", {}, None).name == "a service at x.test"


def test_actor_words() -> None:
    names = {"agent-1": "Travel Assistant"}
    assert words.actor_words({"type": "user", "id": "alice"}, "alice", names) == "You"
    assert words.actor_words({"type": "user", "id": "bob"}, "alice", names) == "User bob"
    assert words.actor_words({"type": "admin"}, "alice", names) == "An administrator"
    assert words.actor_words({"type": "client", "id": "agent-1"}, "alice", names) == (
        "Travel Assistant"
    )
    assert words.actor_words({"type": "issuer"}, "alice", names) == "The issuer"
    assert words.actor_words(None, "alice", names) == "Someone (not recorded)"
    approved = {"type": "grant.approved", "actor": {"type": "user", "id": "alice"}}
    assert words.event_sentence(approved, "alice", names) == "You approved it."


def test_chain_words_with_a_model_hop_or_a_model_attribute() -> None:
    names = {"a": "Agent A", "t": "Tool T"}
    model_hop = {
        "actor_type": "tool",
        "sub": "t",
        "act": {"actor_type": "model", "sub": "m", "act": {"actor_type": "agent", "sub": "a"}},
    }
    attribute = {
        "actor_type": "tool",
        "sub": "t",
        "act": {"actor_type": "agent", "sub": "a", "mcpa_model": "m"},
    }
    expected = "Agent A (model m) → Tool T"
    assert words.chain_words(model_hop, names) == expected
    assert words.chain_words(attribute, names) == expected
