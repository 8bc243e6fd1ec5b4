"""Step 13 — chain (MCPA-VER-025 well-formed, MCPA-VER-026 depth).

Walks ``act`` iteratively from the outermost hop and stops as soon as it has seen
``max_depth + 1`` hops (then MCPA-VER-026). Every hop is an object with a string ``sub``,
an ``actor_type`` of ``agent`` or ``tool`` and, optionally, a string ``mcpa_model``; an
``act`` member, when present, is an object (``"act": null`` is malformed). Innermost
first the types read ``agent tool*``; ``client_id`` equals the ``sub`` of the outermost
hop, the current actor ([RFC8693] section 4.1).
"""

from __future__ import annotations

from typing import Any, Final

from mcp_auth.reference.errors import InvalidToken
from mcp_auth.reference.verifier.context import VerificationContext
from mcp_auth.reference.verifier.principal import Hop

REQ_CHAIN = "MCPA-VER-025"
REQ_DEPTH = "MCPA-VER-026"
ACTOR_TYPES: Final = frozenset({"agent", "tool"})


def _malformed(why: str) -> InvalidToken:
    return InvalidToken("token actor chain is malformed", requirement=REQ_CHAIN, detail=why)


def parse_chain(act: Any, client_id: str, max_depth: int) -> tuple[Hop, ...]:
    """The hops first actor first, or ``InvalidToken`` (MCPA-VER-025/-026)."""
    outer_first: list[Hop] = []
    node = act
    while True:
        if len(outer_first) == max_depth:  # this is hop max_depth + 1: stop here
            raise InvalidToken("token actor chain is too deep", requirement=REQ_DEPTH)
        if type(node) is not dict:
            raise _malformed("hop is not an object")
        sub = node.get("sub")
        actor_type = node.get("actor_type")
        if type(sub) is not str or type(actor_type) is not str or actor_type not in ACTOR_TYPES:
            raise _malformed("hop sub/actor_type missing or invalid")
        model = node.get("mcpa_model")
        if model is not None and type(model) is not str:
            raise _malformed("hop mcpa_model is not a string")
        if "mcpa_model" in node and model is None:
            raise _malformed("hop mcpa_model is null")
        outer_first.append(Hop(actor_type, sub, model))
        if "act" not in node:
            break
        node = node["act"]  # present: must be a hop object (null is malformed)
    chain = tuple(reversed(outer_first))
    if chain[0].actor_type != "agent":
        raise _malformed("the innermost hop is not the agent")
    for hop in chain[1:]:
        if hop.actor_type != "tool":
            raise _malformed("only tools may follow the agent")
    if outer_first[0].sub != client_id:
        raise _malformed("client_id is not the outermost actor")
    return chain


def check_chain(ctx: VerificationContext) -> None:
    ctx.chain = parse_chain(
        ctx.claims["act"], ctx.claims["client_id"], ctx.settings.max_chain_depth
    )
