"""Plain-language names and descriptions of scopes and resources, for the consent page.

A scope token (``files:read``) or a resource URI means nothing to most people. The
operator describes them in the issuer's TOML config, loaded at start::

    [scopes."files:read"]
    name = "Read your files"
    description = "See the names and contents of the files in your storage."

    [resources."https://files.example/mcp"]
    name = "Your file storage"
    description = "Where your documents are kept."

and the consent page shows the name and description, keeping the raw value as a detail.
Like a client's display name, a description is the operator's, never a client's: nothing a
client sends can set it. A resource without a description is named after the client
registered for it (its display name), else by its host.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from .clients import ClientError, valid_resource_uri
from .grants import valid_scope_token
from .storage import Database

KINDS = ("scope", "resource")
MAX_NAME_CHARS = 128
MAX_DESCRIPTION_CHARS = 512
CONFIG_TABLES = {"scopes": "scope", "resources": "resource"}


@dataclass(frozen=True)
class Description:
    kind: str
    value: str
    name: str
    description: str | None = None


def _text(value: object, limit: int) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= limit
        and value.isprintable()
        and value.strip() == value
    )


def validate_description(kind: str, value: object, data: object) -> Description:
    """A ``{name, description?}`` table for a scope token or resource URI."""
    if kind not in KINDS:
        raise ClientError(f"unknown description kind {kind!r}")
    if kind == "scope" and not (isinstance(value, str) and valid_scope_token(value)):
        raise ClientError(f"{value!r} is not a scope token")
    if kind == "resource" and not valid_resource_uri(value):
        raise ClientError(f"{value!r} is not a resource URI")
    if not isinstance(data, dict) or set(data) - {"name", "description"}:
        raise ClientError(f"the description of {value!r} takes only name and description")
    name, description = data.get("name"), data.get("description")
    if not _text(name, MAX_NAME_CHARS):
        raise ClientError(f"the name of {value!r} must be 1-128 printable characters")
    if description is not None and not _text(description, MAX_DESCRIPTION_CHARS):
        raise ClientError(f"the description of {value!r} must be 1-512 printable characters")
    return Description(kind, str(value), str(name), description)


def save_description(db: Database, item: Description) -> None:
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO descriptions (kind, value, name, description) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(kind, value) DO UPDATE SET name = excluded.name, "
            "description = excluded.description",
            (item.kind, item.value, item.name, item.description),
        )


def descriptions(db: Database, kind: str) -> dict[str, Description]:
    rows = db.query("SELECT * FROM descriptions WHERE kind = ?", (kind,))
    return {
        row["value"]: Description(row["kind"], row["value"], row["name"], row["description"])
        for row in rows
    }


def load_config_descriptions(db: Database, path: Path) -> list[Description]:
    """Load the ``[scopes]`` and ``[resources]`` tables of the TOML config file."""
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    loaded: list[Description] = []
    for table, kind in CONFIG_TABLES.items():
        entries = data.get(table, {})
        if not isinstance(entries, dict):
            raise ClientError(f"[{table}] must be a table")
        for value, entry in entries.items():
            item = validate_description(kind, value, entry)
            save_description(db, item)
            loaded.append(item)
    return loaded
