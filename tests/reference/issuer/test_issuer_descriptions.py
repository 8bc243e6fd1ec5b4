"""Scope and resource descriptions from the issuer's TOML config (descriptions.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_auth.reference.issuer.app import create_app
from mcp_auth.reference.issuer.clients import ClientError
from mcp_auth.reference.issuer.descriptions import (
    descriptions,
    load_config_descriptions,
    validate_description,
)
from mcp_auth.reference.issuer.settings import Settings
from mcp_auth.reference.issuer.storage import Database

CONFIG = """
[scopes."files:read"]
name = "Read your files"
description = "See the names and contents of your files."

[scopes]
"data:read" = { name = "Read your data" }

[resources."https://files.example/mcp"]
name = "Your file storage"
"""


def test_config_tables_are_loaded_at_start(tmp_path: Path) -> None:
    config = tmp_path / "issuer.toml"
    config.write_text(CONFIG, encoding="utf-8")
    app = create_app(Settings(data_dir=tmp_path / "data", config_file=config))
    db = app.state.ctx.db
    scopes = descriptions(db, "scope")
    assert scopes["files:read"].name == "Read your files"
    assert scopes["files:read"].description == "See the names and contents of your files."
    assert scopes["data:read"].description is None
    assert descriptions(db, "resource")["https://files.example/mcp"].name == "Your file storage"
    db.close()


@pytest.mark.parametrize(
    ("kind", "value", "data"),
    [
        ("scope", "bad scope", {"name": "x"}),
        ("scope", "a", {"name": ""}),
        ("scope", "a", {"name": " padded"}),
        ("scope", "a", {"name": "x", "colour": "red"}),
        ("scope", "a", {"name": "x", "description": "x" * 513}),
        ("scope", "a", "just a string"),
        ("resource", "not a uri", {"name": "x"}),
        ("resource", "http://example.com/", {"name": "x"}),  # http off loopback
        ("colour", "a", {"name": "x"}),
    ],
)
def test_bad_descriptions_refused(kind: str, value: str, data: object) -> None:
    with pytest.raises(ClientError):
        validate_description(kind, value, data)


def test_bad_table_refused(tmp_path: Path) -> None:
    config = tmp_path / "issuer.toml"
    config.write_text('scopes = "files:read"\n', encoding="utf-8")
    db = Database(tmp_path / "db.sqlite3")
    with pytest.raises(ClientError):
        load_config_descriptions(db, config)
    db.close()
