"""Step 13 — chain (MCPA-VER-025 well-formed, MCPA-VER-026 depth).

Walks ``act`` iteratively from the outermost hop and stops as soon as it has seen
``max_depth + 1`` hops (then MCPA-VER-026). Every hop is an object with a string ``sub``
and an ``actor_type`` of ``agent``, ``model`` or ``tool``; innermost first the types read
``agent model tool*``; ``client_id`` equals the ``sub`` of the outermost non-model hop.
"""

from __future__ import annotations

from typing import Any, Final

from mcp_auth.reference.errors import InvalidToken
from mcp_auth.reference.verifier.context import VerificationContext
from mcp_auth.reference.verifier.principal import Hop

REQ_CHAIN = "MCPA-VER-025"
REQ_DEPTH = "MCPA-VER-026"
ACTOR_TYPES: Final = frozenset({"agent", "model", "tool"})
_END: Final = object()  # no "act" member: the innermost hop


def _malformed(why: str) -> InvalidToken:
    return InvalidToken("token actor chain is malformed", requirement=REQ_CHAIN, detail=why)


def parse_chain(act: Any, client_id: str, max_depth: int) -> tuple[Hop, ...]:
    """The hops first actor first, or ``InvalidToken`` (MCPA-VER-025/-026)."""
    outer_first: list[Hop] = []
    node = act
    while node is not _END:  # "act": null is a hop that is not an object, not the end
        if len(outer_first) == max_depth:  # this is hop max_depth + 1: stop here
            raise InvalidToken("token actor chain is too deep", requirement=REQ_DEPTH)
        if type(node) is not dict:
            raise _malformed("hop is not an object")
        sub = node.get("sub")
        actor_type = node.get("actor_type")
        if type(sub) is not str or type(actor_type) is not str or actor_type not in ACTOR_TYPES:
            raise _malformed("hop sub/actor_type missing or invalid")
        outer_first.append(Hop(actor_type, sub))
        node = node.get("act", _END)
    chain = tuple(reversed(outer_first))
    if len(chain) < 2 or chain[0].actor_type != "agent" or chain[1].actor_type != "model":
        raise _malformed("chain does not start with one agent then one model")
    for hop in chain[2:]:
        if hop.actor_type != "tool":
            raise _malformed("only tools may follow the model")
    holder = next(h.sub for h in outer_first if h.actor_type != "model")
    if holder != client_id:
        raise _malformed("client_id is not the outermost non-model actor")
    return chain


def check_chain(ctx: VerificationContext) -> None:
    ctx.chain = parse_chain(
        ctx.claims["act"], ctx.claims["client_id"], ctx.settings.max_chain_depth
    )
