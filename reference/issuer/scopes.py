"""Scope strings (RFC 6749 section 3.3): parsing and the subset rule."""

from __future__ import annotations

from .grants import SCOPE_TOKEN_RE
from .settings import MAX_SCOPES


def parse_scope(value: str) -> list[str] | None:
    """Space-separated scope tokens, each once; None when malformed or too many."""
    if not value:
        return None
    items = value.split(" ")
    if len(items) > MAX_SCOPES or any(not SCOPE_TOKEN_RE.match(item) for item in items):
        return None
    if len(set(items)) != len(items):
        return None
    return items


def is_subset(requested: list[str], allowed: list[str] | tuple[str, ...]) -> bool:
    return set(requested) <= set(allowed)
