"""Registered clients: validation and the TOML config file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mcp_auth.reference.issuer.client import new_client_key
from mcp_auth.reference.issuer.clients import (
    ClientError,
    get_client,
    load_config,
    save_client,
    validate_client,
)
from mcp_auth.reference.issuer.storage import Database


def body(**over: Any) -> dict[str, Any]:
    _, jwks = new_client_key("c")
    data: dict[str, Any] = {
        "client_id": "t",
        "client_type": "tool",
        "jwks": jwks,
        "resource": "https://t.test/mcp",
    }
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def test_valid() -> None:
    client = validate_client(body(), source="x")
    assert client.resource == "https://t.test/mcp"


@pytest.mark.parametrize(
    "over",
    [
        {"client_id": ""},
        {"client_id": "a b"},
        {"client_id": "x" * 257},
        {"client_type": "user"},
        {"resource": None},
        {"resource": "ftp://x"},
        {"resource": "https://x/#f"},
        {"jwks": {"keys": []}},
        {"jwks": {"keys": [{"kty": "oct", "k": "AAAA"}]}},
        {"client_type": "agent"},
        {"extra": 1},
        {"jwks": []},
    ],
)
def test_invalid(over: dict[str, Any]) -> None:
    with pytest.raises(ClientError):
        validate_client(body(**over), source="x")


@pytest.mark.parametrize("name", ["", " padded", "x" * 257, "line\nbreak", 7])
def test_invalid_client_name(name: object) -> None:
    with pytest.raises(ClientError):
        validate_client(body(client_name=name), source="x")


def test_client_name_round_trip(tmp_path: Path) -> None:
    db = Database(tmp_path / "c.sqlite3")
    client = validate_client(body(client_name="Files tool"), source="x")
    assert client.public()["client_name"] == "Files tool"
    save_client(db, client)
    got = get_client(db, "t")
    assert got is not None and got.client_name == "Files tool"
    save_client(db, validate_client(body(), source="x"))  # replacing drops the name
    got = get_client(db, "t")
    assert got is not None and got.client_name is None and "client_name" not in got.public()


def test_private_key_refused() -> None:
    private, _ = new_client_key("c")
    with pytest.raises(ClientError):
        validate_client(body(jwks={"keys": [private]}), source="x")


def test_config_file(tmp_path: Path) -> None:
    _, jwks_a = new_client_key("a")
    _, jwks_t = new_client_key("t")
    (tmp_path / "t.json").write_text(json.dumps(jwks_t))
    inline = ", ".join(f"{k} = {json.dumps(v)}" for k, v in jwks_a["keys"][0].items())
    config = tmp_path / "issuer.toml"
    config.write_text(
        '[[clients]]\nclient_id = "a"\nclient_type = "agent"\n'
        f"jwks = {{ keys = [ {{ {inline} }} ] }}\n"
        '[[clients]]\nclient_id = "t"\nclient_type = "tool"\n'
        'resource = "https://t.test/mcp"\njwks_file = "t.json"\nclient_name = "Files tool"\n'
    )
    db = Database(tmp_path / "c.sqlite3")
    loaded = load_config(db, config)
    assert [c.client_id for c in loaded] == ["a", "t"]
    got = get_client(db, "t")
    assert got is not None and got.source == "config" and got.jwks == jwks_t
    assert got.client_name == "Files tool"
