"""The agent chain in nested ``act`` objects (CONTRACT.md section 1, MCPA-TOK-022).

Outermost = current actor = the holder (``client_id``), innermost = first actor
([RFC8693] section 4.1). One hop per holder; grammar, innermost first: exactly one
``agent``, then zero or more ``tool``. The model a hop used is an attribute of that hop,
``mcpa_model``, not a hop of its own (draft-01). Depth = number of hops (holders).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ACTOR_TYPES = ("agent", "tool")


def issuance_chain(agent: str, model: str) -> dict[str, Any]:
    """The chain of a freshly issued token: the agent with its model, depth 1 (MCPA-ISS-016)."""
    return {"actor_type": "agent", "sub": agent, "mcpa_model": model}


def append_tool(act: dict[str, Any], tool: str, model: str | None = None) -> dict[str, Any]:
    """The chain after ``tool`` exchanged a token carrying ``act`` (MCPA-XCH-010).

    ``model`` is the model the tool named at exchange (MCPA-XCH-016), if any.
    """
    hop: dict[str, Any] = {"actor_type": "tool", "sub": tool}
    if model is not None:
        hop["mcpa_model"] = model
    hop["act"] = act
    return hop


def hops(act: object) -> list[dict[str, Any]] | None:
    """The hop objects outermost first, or None when ``act`` is not a well-formed chain."""
    found: list[dict[str, Any]] = []
    node = act
    while node is not None:
        if not isinstance(node, dict) or len(found) > 64:
            return None
        if not isinstance(node.get("sub"), str) or node.get("actor_type") not in ACTOR_TYPES:
            return None
        if "mcpa_model" in node and not isinstance(node["mcpa_model"], str):
            return None
        found.append(node)
        if "act" in node and node["act"] is None:  # "act": null is malformed, not absent
            return None
        node = node.get("act")
    types = [hop["actor_type"] for hop in reversed(found)]
    if not types or types[0] != "agent" or any(t != "tool" for t in types[1:]):
        return None
    return found


def depth(act: object) -> int:
    found = hops(act)
    if found is None:
        raise ValueError("malformed chain")
    return len(found)


def holder(act: object) -> str | None:
    """``sub`` of the outermost hop, the current actor (must equal ``client_id``)."""
    found = hops(act)
    if found is None:
        return None
    return str(found[0]["sub"])


def models(act: object) -> list[str]:
    """Every ``mcpa_model`` named along a well-formed chain, outermost first."""
    return [str(h["mcpa_model"]) for h in hops(act) or () if "mcpa_model" in h]


def display_hops(act: object, limit: int = 64) -> list[Mapping[str, Any]]:
    """The hop objects of any ``act`` value, first actor first, for display only.

    Nothing is validated: the walk stops at the first value that is not an object and after
    ``limit`` hops, so audit records and tokens of either draft can be shown.
    """
    found: list[Mapping[str, Any]] = []
    node = act
    while isinstance(node, Mapping) and len(found) < limit:
        found.append(node)
        node = node.get("act")
    found.reverse()
    return found


def labels(act: object, names: Mapping[str, str] | None = None, limit: int = 64) -> list[str]:
    """``["Demo agent (model demo-model)", "Demo tool 1"]``, first actor first.

    ``names`` maps a hop's ``sub`` to a display name. A model is shown beside the hop it
    belongs to, whether an ``mcpa_model`` attribute (draft-01) or a hop of its own
    (``actor_type`` ``model``, draft-00, as old audit records hold it).
    """
    out: list[str] = []
    for hop in display_hops(act, limit):
        sub = str(hop.get("sub"))
        if hop.get("actor_type") == "model":
            if out:
                out[-1] += f" (model {sub})"
            else:
                out.append(f"model {sub}")
            continue
        label = names.get(sub, sub) if names else sub
        if isinstance(hop.get("mcpa_model"), str):
            label += f" (model {hop['mcpa_model']})"
        out.append(label)
    return out
