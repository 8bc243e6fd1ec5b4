"""``mcp-auth demo seed`` and ``mcp-auth demo chain``: the whole chain in minutes.

Seed (offline, writes the data directory): user ``alice``, agent ``demo-agent``, tools
``demo-tool-1..3`` (resources ``:8401/mcp``, ``:8411/mcp``, ``:8421/mcp``), resource server
``demo-resource`` (``:8402``), model ``demo-model``, and an active grant covering all of
them. ``tool_urls`` (one to three, naming ``demo-tool-1``, ``-2``, ``-3`` in order) and
``resource_url`` replace those addresses, so the demo fits a machine whose ports are taken.
Chain (online, against a running issuer): the checked steps of ``demo_steps`` (issuance, one
exchange per tool, introspection, revocation, introspection again, a refused exchange).
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import httpx

from mcp_auth.command_errors import CliError

from . import grants
from .app import open_data_dir
from .client import new_client_key
from .clients import Client, client_for_resource, delete_client, save_client, valid_resource_uri
from .demo_steps import show_chain
from .descriptions import Description, save_description
from .keys import write_private_file
from .settings import GRANT_DEFAULT_EXPIRES_IN, Settings
from .users import add_user

DEMO_USER = "alice"
DEMO_AGENT = "demo-agent"
DEMO_MODEL = "demo-model"
DEMO_TOOLS = (
    ("demo-tool-1", "http://127.0.0.1:8401/mcp"),
    ("demo-tool-2", "http://127.0.0.1:8411/mcp"),
    ("demo-tool-3", "http://127.0.0.1:8421/mcp"),
)
DEMO_RESOURCE = ("demo-resource", "http://127.0.0.1:8402")
DEMO_SCOPES = ("files:read", "files:write", "data:read")
# What the consent page says about the demo's scopes and resource server (descriptions.py).
DEMO_DESCRIPTIONS = (
    ("scope", "files:read", "Read your files", "See the names and contents of your files."),
    ("scope", "files:write", "Change your files", "Create, change and delete your files."),
    ("scope", "data:read", "Read your data", "See the records kept about you."),
)
DEMO_RESOURCE_WORDS = ("Demo file store", "The service where the demo keeps your files.")
DEMO_PURPOSE = "MCP-Auth demo"
TOOL_PORT_STEP = 10  # --tool-port-base P: tools at P, P + 10, P + 20 (the defaults' layout)


class DemoError(ValueError):
    """Demo addresses that cannot be used (reported by the CLI, nothing changed)."""


def tool_urls_from_port_base(port: int, host: str = "127.0.0.1") -> tuple[str, ...]:
    """``http://HOST:PORT/mcp``, ``:PORT+10/mcp``, ``:PORT+20/mcp`` for the three tools."""
    if not 1 <= port <= 65535 - TOOL_PORT_STEP * (len(DEMO_TOOLS) - 1):
        raise DemoError(f"--tool-port-base must leave room for {len(DEMO_TOOLS)} ports")
    return tuple(
        f"http://{host}:{port + TOOL_PORT_STEP * number}/mcp" for number in range(len(DEMO_TOOLS))
    )


def demo_clients(
    tool_urls: tuple[str, ...] | list[str] | None = None, resource_url: str | None = None
) -> tuple[tuple[tuple[str, str], ...], tuple[str, str]]:
    """The demo's (client_id, resource) pairs for tools and the resource server, checked."""
    urls = tuple(tool_urls) if tool_urls else tuple(res for _, res in DEMO_TOOLS)
    resource = resource_url or DEMO_RESOURCE[1]
    if not 1 <= len(urls) <= len(DEMO_TOOLS):
        raise DemoError(f"give 1 to {len(DEMO_TOOLS)} tool URLs")
    for url in (*urls, resource):
        if not valid_resource_uri(url):
            raise DemoError(
                f"{url!r} is not a usable resource identifier: absolute https (http only on a "
                "loopback host), no fragment, at most 2048 characters"
            )
    if len({*urls, resource}) != len(urls) + 1:
        raise DemoError("the tool and resource URLs must all differ")
    tools = tuple((f"demo-tool-{number}", url) for number, url in enumerate(urls, start=1))
    return tools, (DEMO_RESOURCE[0], resource)


def demo_dir(settings: Settings) -> Path:
    return settings.data_dir / "demo"


def _toml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string for our values


def _toml_list(values: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join(_toml_str(v) for v in values) + "]"


def seed(
    settings: Settings,
    write_target: Path | None = None,
    *,
    tool_urls: tuple[str, ...] | list[str] | None = None,
    resource_url: str | None = None,
    active_grant: bool = True,
) -> dict[str, Any]:
    """Write the demo into the data directory; ``DemoError`` (nothing written) on bad URLs.

    Without ``active_grant`` no grant is created (``grant_id`` is None): ``mcp-auth demo``
    asks for a pending one through the grants API instead.
    """
    demo_tools, demo_resource = demo_clients(tool_urls, resource_url)
    if len(demo_tools) + 1 > settings.max_chain_depth:  # the agent's hop, then one per tool
        raise DemoError(f"at most {settings.max_chain_depth - 1} tools fit the chain depth")
    data = open_data_dir(settings)
    # The demo's own client_ids are replaced; an address held by any other client is an error.
    own_ids = {DEMO_AGENT, demo_resource[0], *(cid for cid, _ in DEMO_TOOLS)}
    for _, url in (*demo_tools, demo_resource):
        holder = client_for_resource(data.db, url)
        if holder is not None and holder.client_id not in own_ids:
            data.db.close()
            raise DemoError(f"{url} is already the resource of client {holder.client_id!r}")
    for client_id in sorted(own_ids):
        delete_client(data.db, client_id)
    folder = demo_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    password = secrets.token_urlsafe(12)
    add_user(data.db, DEMO_USER, password)
    key_files: dict[str, Path] = {}
    registrations: list[tuple[str, str, str | None]] = [(DEMO_AGENT, "agent", None)]
    registrations += [(cid, "tool", res) for cid, res in demo_tools]
    registrations.append((demo_resource[0], "resource", demo_resource[1]))
    for client_id, client_type, resource in registrations:
        private, jwks = new_client_key(client_id)
        path = folder / f"{client_id}.jwk"
        write_private_file(path, json.dumps(private, indent=2) + "\n")
        name = "MCP-Auth demo " + client_id.removeprefix("demo-").replace("-", " ")
        save_client(data.db, Client(client_id, client_type, jwks, resource, "demo", name))
        key_files[client_id] = path
    for kind, value, name, description in (
        *DEMO_DESCRIPTIONS,
        ("resource", demo_resource[1], *DEMO_RESOURCE_WORDS),
    ):
        save_description(data.db, Description(kind, value, name, description))
    resources = (*(res for _, res in demo_tools), demo_resource[1])
    grant_id: str | None = None
    if active_grant:
        grant_id = grants.create_grant(
            data.db,
            grants.GrantRequest(
                sub=DEMO_USER,
                client_id=DEMO_AGENT,
                resources=resources,
                scopes=DEMO_SCOPES,
                tools=tuple(cid for cid, _ in demo_tools),
                models=(DEMO_MODEL,),
                max_depth=settings.max_chain_depth,
                max_token_lifetime=settings.max_token_lifetime,
                expires_in=GRANT_DEFAULT_EXPIRES_IN,
                purpose=DEMO_PURPOSE,
            ),
            active=True,
        ).grant_id
    state = {
        "issuer_url": settings.issuer_url,
        "grant_id": grant_id,
        "user": DEMO_USER,
        "model": DEMO_MODEL,
        "agent": {"client_id": DEMO_AGENT, "private_jwk_file": str(key_files[DEMO_AGENT])},
        "tools": [
            {"client_id": cid, "resource": res, "private_jwk_file": str(key_files[cid])}
            for cid, res in demo_tools
        ],
        "resource": {
            "client_id": demo_resource[0],
            "resource": demo_resource[1],
            "private_jwk_file": str(key_files[demo_resource[0]]),
        },
    }
    write_private_file(folder / "demo.json", json.dumps(state, indent=2) + "\n")
    if write_target is not None:
        write_private_file(write_target, target_toml(settings, state, data.admin_token))
    data.db.close()
    return {**state, "password": password}


def target_toml(settings: Settings, state: dict[str, Any], admin_token: str) -> str:
    """The conformance target file for this demo issuer (conformance-target schema)."""
    lines = [
        "# MCP-Auth conformance target for the reference issuer (written by demo seed)",
        'spec_version = "draft-01"',
        "",
        "[issuer]",
        f"url = {_toml_str(settings.issuer_url)}",
        "",
        "[issuer.agent]",
        f"client_id = {_toml_str(state['agent']['client_id'])}",
        f"private_jwk_file = {_toml_str(state['agent']['private_jwk_file'])}",
        f"model = {_toml_str(state['model'])}",
    ]
    for tool in state["tools"]:
        lines += [
            "",
            "[[issuer.tools]]",
            f"client_id = {_toml_str(tool['client_id'])}",
            f"private_jwk_file = {_toml_str(tool['private_jwk_file'])}",
            f"resource = {_toml_str(tool['resource'])}",
        ]
    resources = [t["resource"] for t in state["tools"]] + [state["resource"]["resource"]]
    lines += [
        "",
        "[issuer.grants]",
        'mode = "admin"',
        f"admin_token = {_toml_str(admin_token)}",
        f"user = {_toml_str(state['user'])}",
        f"resources = {_toml_list(resources)}",
        f"scopes = {_toml_list(DEMO_SCOPES)}",
        f"models = {_toml_list([state['model']])}",
        "quota_probe = 120",
        "",
    ]
    return "\n".join(lines)


def chain(
    settings: Settings, issuer_url: str | None = None, *, http: httpx.Client | None = None
) -> int:
    """Run the demo chain (``demo_steps``) against a running issuer; 0 when every step behaved."""
    state_path = demo_dir(settings) / "demo.json"
    if not state_path.exists():
        print(f"no demo state in {state_path}; run `mcp-auth demo seed` first")
        return 1
    state = json.loads(state_path.read_text(encoding="utf-8"))
    if not state.get("grant_id"):
        raise CliError(f"no demo grant in {state_path}: run `mcp-auth demo seed` first")
    url = issuer_url or state["issuer_url"]
    try:
        ok = show_chain(state, url, http=http)
    except httpx.TransportError as exc:
        raise CliError(
            f"cannot reach the issuer at {url} ({type(exc).__name__}): start it with "
            f"`mcp-auth serve --data-dir {settings.data_dir}` or give --issuer-url"
        ) from None
    print(
        "\nthe audit log of this grant: "
        f"{url}/consent/grants/{state['grant_id']} (sign in as {state['user']})"
    )
    return 0 if ok else 1
