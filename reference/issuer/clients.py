"""Registered clients: agent runtimes, tools and resource servers (CONTRACT.md section 1).

Clients come from a TOML config file (loaded at start, ``source = "config"``), from the
admin API (``POST/GET/DELETE /admin/clients``) and from ``mcp-auth client add``. Each has
a public JWK set for ``private_key_jwt`` and, for tools and resources, its RFC 8707
resource identifier (the ``aud`` of tokens meant for it), unique across clients, and may
have a display name (``client_name``, as in RFC 7591) that the consent page shows next to
the ``client_id`` (MCPA-GRT-008). The name is the operator's, registered with the client;
nothing a client sends in a request can set it.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..jose import JoseError, load_jwks
from .settings import MAX_URI_CHARS, is_allowed_url
from .storage import Database

CLIENT_TYPES = ("agent", "tool", "resource")
CLIENT_ID_RE = re.compile(r"^[\x21-\x7e]{1,256}$")
MAX_CLIENT_NAME_CHARS = 256
MAX_KEYS = 10
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


class ClientError(ValueError):
    """A client registration that cannot be accepted (answered as ``invalid_request``)."""


@dataclass(frozen=True)
class Client:
    client_id: str
    client_type: str
    jwks: dict[str, Any]
    resource: str | None
    source: str
    client_name: str | None = None

    def public(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "client_id": self.client_id,
            "client_type": self.client_type,
            "jwks": self.jwks,
        }
        if self.resource is not None:
            body["resource"] = self.resource
        if self.client_name is not None:
            body["client_name"] = self.client_name
        return body


def valid_resource_uri(value: object) -> bool:
    """An RFC 8707 resource identifier: absolute https URI (http on loopback), no fragment,
    at most 2048 characters (MCPA-GEN-001, Appendix A.8a)."""
    return is_allowed_url(value, max_length=MAX_URI_CHARS)


def validate_jwks(jwks: object) -> dict[str, Any]:
    """A JWK set of 1..10 public ES256/Ed25519 keys with distinct ``kid`` values."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise ClientError("jwks must be an object with a keys array")
    keys = jwks["keys"]
    if not 1 <= len(keys) <= MAX_KEYS:
        raise ClientError("jwks must hold 1 to 10 keys")
    for key in keys:
        if not isinstance(key, dict):
            raise ClientError("each JWK must be an object")
        if PRIVATE_MEMBERS & set(key):
            raise ClientError("jwks must contain public keys only")
        if "kid" in key and (not isinstance(key["kid"], str) or not key["kid"]):
            raise ClientError("kid values must be non-empty strings")
    try:
        keyset = load_jwks({"keys": keys})
    except JoseError as exc:
        raise ClientError("jwks is malformed") from exc
    if keyset.rejected or keyset.ambiguous_kids:
        raise ClientError("jwks holds an unsupported, malformed or duplicate-kid key")
    return {"keys": keys}


def validate_client(data: object, *, source: str) -> Client:
    if not isinstance(data, dict):
        raise ClientError("a client must be a JSON/TOML object")
    allowed = {"client_id", "client_type", "jwks", "resource", "client_name"}
    unknown = set(data) - allowed
    if unknown:
        raise ClientError("the client has an unknown member")
    client_id = data.get("client_id")
    if not isinstance(client_id, str) or not CLIENT_ID_RE.match(client_id):
        raise ClientError("client_id must be 1-256 printable ASCII characters without spaces")
    client_type = data.get("client_type")
    if client_type not in CLIENT_TYPES:
        raise ClientError("client_type must be agent, tool or resource")
    jwks = validate_jwks(data.get("jwks"))
    resource = data.get("resource")
    if client_type == "agent":
        if resource is not None:
            raise ClientError("agent clients have no resource")
    elif not valid_resource_uri(resource):
        raise ClientError(
            "tool and resource clients need a resource URI: absolute https (http only on a "
            "loopback host), no fragment, at most 2048 characters"
        )
    client_name = data.get("client_name")
    if client_name is not None and not (
        isinstance(client_name, str)
        and 0 < len(client_name) <= MAX_CLIENT_NAME_CHARS
        and client_name.isprintable()
        and client_name.strip() == client_name
    ):
        raise ClientError(
            "client_name must be 1-256 printable characters without leading or trailing spaces"
        )
    return Client(str(client_id), str(client_type), jwks, resource, source, client_name)


def _from_row(row: sqlite3.Row) -> Client:
    return Client(
        row["client_id"],
        row["client_type"],
        json.loads(row["jwks"]),
        row["resource"],
        row["source"],
        row["client_name"],
    )


def save_client(db: Database, client: Client, *, replace: bool = True) -> None:
    """Insert (or replace) a client; a resource URI already taken by another client fails."""
    with db.transaction() as conn:
        existing = conn.execute(
            "SELECT client_id FROM clients WHERE resource = ? AND client_id != ?",
            (client.resource, client.client_id),
        ).fetchone()
        if client.resource is not None and existing is not None:
            raise ClientError("another client is registered for this resource")
        if (
            not replace
            and conn.execute(
                "SELECT 1 FROM clients WHERE client_id = ?", (client.client_id,)
            ).fetchone()
        ):
            raise ClientError("a client with this client_id exists")
        conn.execute(
            "INSERT INTO clients (client_id, client_type, jwks, resource, source, created_at, "
            "client_name) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(client_id) DO UPDATE SET "
            "client_type = excluded.client_type, jwks = excluded.jwks, "
            "resource = excluded.resource, source = excluded.source, "
            "client_name = excluded.client_name",
            (
                client.client_id,
                client.client_type,
                json.dumps(client.jwks),
                client.resource,
                client.source,
                int(time.time()),
                client.client_name,
            ),
        )


def get_client(db: Database, client_id: str) -> Client | None:
    row = db.query_one("SELECT * FROM clients WHERE client_id = ?", (client_id,))
    return None if row is None else _from_row(row)


def client_for_resource(db: Database, resource: str) -> Client | None:
    row = db.query_one("SELECT * FROM clients WHERE resource = ?", (resource,))
    return None if row is None else _from_row(row)


def list_clients(db: Database) -> list[Client]:
    return [_from_row(row) for row in db.query("SELECT * FROM clients ORDER BY client_id")]


def delete_client(db: Database, client_id: str) -> bool:
    with db.transaction() as conn:
        cur = conn.execute("DELETE FROM clients WHERE client_id = ?", (client_id,))
        return cur.rowcount > 0


def load_config(db: Database, path: Path) -> list[Client]:
    """Load ``[[clients]]`` from a TOML file; ``jwks_file`` may replace an inline ``jwks``.

    Relative ``jwks_file`` paths resolve against the config file's folder.
    """
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    loaded: list[Client] = []
    for entry in data.get("clients", []):
        if not isinstance(entry, dict):
            raise ClientError("each [[clients]] entry must be a table")
        item = dict(entry)
        jwks_file = item.pop("jwks_file", None)
        if jwks_file is not None:
            jwks_path = Path(str(jwks_file))
            if not jwks_path.is_absolute():
                jwks_path = path.parent / jwks_path
            item["jwks"] = json.loads(jwks_path.read_text(encoding="utf-8"))
        client = validate_client(item, source="config")
        save_client(db, client)
        loaded.append(client)
    return loaded
