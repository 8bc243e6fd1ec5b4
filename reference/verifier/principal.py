"""The verified principal handed to the application (spec section 5.7)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Hop:
    """One actor of the chain."""

    actor_type: str  # "agent" | "tool"
    sub: str
    model: str | None = None  # the hop's ``mcpa_model``, when it named one


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, for whom, under which grant, through which chain.

    ``chain`` runs first actor first (the agent, then each tool; each hop with the model
    it used, when it named one);
    ``act`` is the token's nested ``act`` claim as received; ``claims`` is the whole
    verified claim set. Also usable as a Starlette ``request.user`` (``is_authenticated``,
    ``display_name``, ``identity``).
    """

    sub: str
    grant_id: str
    client_id: str
    scopes: frozenset[str]
    chain: tuple[Hop, ...]
    act: dict[str, Any] = field(repr=False)
    claims: dict[str, Any] = field(repr=False)
    jti: str
    exp: int
    jkt: str = ""

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.sub

    @property
    def identity(self) -> str:
        return self.sub

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly summary (no token content beyond these claims)."""
        return {
            "sub": self.sub,
            "grant_id": self.grant_id,
            "client_id": self.client_id,
            "scopes": sorted(self.scopes),
            "chain": [
                {"actor_type": h.actor_type, "sub": h.sub}
                | ({"mcpa_model": h.model} if h.model is not None else {})
                for h in self.chain
            ],
            "jti": self.jti,
            "exp": self.exp,
        }
