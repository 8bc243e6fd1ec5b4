"""JSON Schemas (draft 2020-12) for every MCP-Auth protocol object, shipped as package data."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

BASE_URI = "https://mcp-auth.dev/schemas/draft-00/"


@cache
def load(name: str) -> dict[str, Any]:
    """Return the schema ``name`` (file name without ``.schema.json``)."""
    text = resources.files(__name__).joinpath(f"{name}.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def names() -> list[str]:
    """All schema names shipped with the package."""
    suffix = ".schema.json"
    return sorted(
        p.name[: -len(suffix)] for p in resources.files(__name__).iterdir() if p.name.endswith(suffix)
    )
