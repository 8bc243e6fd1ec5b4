"""The agent chain in nested ``act`` objects (CONTRACT.md section 1, MCPA-TOK-008).

Outermost = current actor, innermost = first actor. Grammar, innermost first: exactly
one ``agent``, then exactly one ``model``, then zero or more ``tool``.
"""

from __future__ import annotations

from typing import Any


def issuance_chain(agent: str, model: str) -> dict[str, Any]:
    """The chain of a freshly issued token: model over agent, depth 2 (MCPA-ISS-008)."""
    return {"actor_type": "model", "sub": model, "act": {"actor_type": "agent", "sub": agent}}


def append_tool(act: dict[str, Any], tool: str) -> dict[str, Any]:
    """The chain after ``tool`` exchanged a token carrying ``act`` (MCPA-XCH-010)."""
    return {"actor_type": "tool", "sub": tool, "act": act}


def hops(act: object) -> list[dict[str, Any]] | None:
    """The hop objects outermost first, or None when ``act`` is not a well-formed chain."""
    found: list[dict[str, Any]] = []
    node = act
    while node is not None:
        if not isinstance(node, dict) or len(found) > 64:
            return None
        if not isinstance(node.get("sub"), str) or node.get("actor_type") not in (
            "agent",
            "model",
            "tool",
        ):
            return None
        found.append(node)
        node = node.get("act")
    types = [hop["actor_type"] for hop in reversed(found)]
    if len(types) < 2 or types[0] != "agent" or types[1] != "model":
        return None
    if any(t != "tool" for t in types[2:]):
        return None
    return found


def depth(act: object) -> int:
    found = hops(act)
    if found is None:
        raise ValueError("malformed chain")
    return len(found)


def holder(act: object) -> str | None:
    """``sub`` of the outermost hop that is not a model (must equal ``client_id``)."""
    found = hops(act)
    if found is None:
        return None
    for hop in found:
        if hop["actor_type"] != "model":
            return str(hop["sub"])
    return None
