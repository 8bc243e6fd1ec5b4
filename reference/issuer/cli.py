"""``mcp-auth`` subcommands of the reference issuer.

serve, init, user add, client add/list/remove, keys rotate, audit verify, demo, demo seed,
demo chain (and ``grant request``, from ``grant_cli``). Each subcommand sets ``handler``
(namespace -> exit code); a mistake the user can fix is a ``CliError`` (one line on stderr).
Only serve, init and demo seed create a data directory (``data_dir``); the others refuse a
missing one.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sqlite3
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import httpx

from mcp_auth.command_errors import CliError
from mcp_auth.command_parser import examples, port, seconds
from mcp_auth.listen import DEFAULT_MAX_CONNECTIONS, DEFAULT_REQUEST_TIMEOUT, listen, serve

from . import data_dir
from .app import create_app, key_retention
from .audit import verify_chain
from .client import new_client_key
from .clients import ClientError, delete_client, list_clients, save_client, validate_client
from .demo import (
    DEMO_RESOURCE,
    DemoError,
    chain,
    demo_clients,
    demo_dir,
    seed,
    tool_urls_from_port_base,
)
from .demo_story import add_demo_options
from .grant_cli import register_grant
from .keys import ROTATION_LEAD, KeyStore, write_private_file
from .settings import DEFAULT_HOST, DEFAULT_PORT, Settings, default_data_dir, is_loopback_host
from .storage import SCHEMA_VERSION, Database
from .users import UserError, add_user

EXIT_CANNOT_CHECK = 2  # audit verify: 0 chain OK, 1 chain broken, 2 could not check

ISSUER_URLS = (
    "accepted: https://HOST[:PORT], or http:// on a loopback host (127.0.0.1, ::1, localhost), "
    "without path, query or fragment, e.g. http://127.0.0.1:8400"
)


def _data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data_dir).expanduser() if args.data_dir else default_data_dir()


def _issuer_settings(data: Path, url: str, **extra: Any) -> Settings:
    try:
        return Settings(data_dir=data, issuer_url=url, **extra)
    except ValueError as exc:
        raise CliError(f"--issuer-url {url}: {exc}; {ISSUER_URLS}", 2) from None


def _settings(args: argparse.Namespace, **extra: Any) -> Settings:
    url = getattr(args, "issuer_url", None) or f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
    return _issuer_settings(_data_dir(args), url, **extra)


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="the issuer's data directory (default: $MCP_AUTH_DATA_DIR, "
        "$XDG_DATA_HOME/mcp-auth or ~/.local/share/mcp-auth)",
    )


def _check_config(path: Path) -> None:
    """The --config file is readable TOML (its clients are checked when loaded)."""
    try:
        tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CliError(f"--config {path}: cannot read it: {exc.strerror or exc}", 2) from None
    except UnicodeDecodeError:
        raise CliError(f"--config {path}: not UTF-8 text; give a TOML file", 2) from None
    except tomllib.TOMLDecodeError as exc:
        raise CliError(f"--config {path} is not valid TOML: {exc}", 2) from None


# -- serve --------------------------------------------------------------------------------
def _connections(text: str) -> int:
    """``type=`` for --max-connections: 1 to 65536."""
    value = int(text) if text.isdigit() else 0
    if not 1 <= value <= 65536:
        raise argparse.ArgumentTypeError(f"{text!r}: give 1 to 65536 connections")
    return value


def cmd_serve(args: argparse.Namespace) -> int:
    if args.issuer_url is None and not is_loopback_host(args.host):
        raise CliError(
            f"--host {args.host} is not a loopback address, so the issuer needs a public "
            "https identifier: give --issuer-url https://HOST[:PORT] (e.g. the URL of the TLS "
            "proxy in front of it)",
            2,
        )
    issuer_url = args.issuer_url or f"http://{args.host}:{args.port}"
    config_file = Path(args.config).expanduser() if args.config else None
    settings = _issuer_settings(_data_dir(args), issuer_url, config_file=config_file)
    if config_file is not None:
        _check_config(config_file)
    if settings.data_dir.exists():
        data_dir.prepare(settings)  # a file where the directory should be: refused here
    # Bind first: a taken port is one line, before anything is created or announced.
    sock = listen(args.host, args.port)
    try:
        first_run = not settings.db_path.exists()
        data_dir.open_or_create(settings).db.close()
        try:
            app = create_app(settings)
        except (ClientError, ValueError, OSError) as exc:
            if config_file is None:
                raise
            raise CliError(f"--config {config_file}: {exc}", 2) from None
    except BaseException:
        sock.close()
        raise
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    print(
        f"MCP-Auth reference Delegation Issuer\n"
        f"  issuer         {settings.issuer_url}\n"
        f"  metadata       {settings.url('/.well-known/oauth-authorization-server')}\n"
        f"  JWKS           {settings.url('/jwks')}\n"
        f"  consent page   {settings.consent_endpoint}\n"
        f"  data directory {settings.data_dir}{'  (created)' if first_run else ''}\n"
        f"  admin token    in {settings.admin_token_path}\n"
        f"Next steps:\n"
        f"  create a user:   mcp-auth user add NAME --data-dir {settings.data_dir}\n"
        f"  register client: mcp-auth client add ID --type agent|tool|resource "
        f"[--resource URI] --generate-key --data-dir {settings.data_dir}\n"
        f"  or the demo:     mcp-auth demo seed --data-dir {settings.data_dir}  then  "
        f"mcp-auth demo chain --data-dir {settings.data_dir}",
        flush=True,
    )
    serve(
        app,
        sock,
        access_log=False,
        log_level="info",
        max_connections=args.max_connections,
        request_timeout=args.request_timeout,
    )
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    settings = _settings(args)
    existed = settings.db_path.exists()
    data_dir.open_or_create(settings).db.close()
    state = "already holds an issuer" if existed else "created"
    print(
        f"data directory {settings.data_dir}: {state}\n"
        f"  database     {settings.db_path}\n"
        f"  signing keys {settings.keys_dir}\n"
        f"  admin token  in {settings.admin_token_path}"
    )
    return 0


# -- users --------------------------------------------------------------------------------
def cmd_user_add(args: argparse.Namespace) -> int:

    settings = _settings(args)
    data_dir.require(settings)  # before asking for a password
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise CliError("the two passwords differ: run the command again", 1)
    else:
        raise CliError("no terminal: pass --password-stdin and the password on stdin", 2)
    data = data_dir.open_existing(settings)
    try:
        add_user(data.db, args.name, password)
    except UserError as exc:
        raise CliError(str(exc), 1) from None
    finally:
        data.db.close()
    print(f"user {args.name!r} saved in {settings.db_path}")
    return 0


# -- clients ------------------------------------------------------------------------------
def cmd_client_add(args: argparse.Namespace) -> int:

    settings = _settings(args)
    if not args.generate_key and not args.jwks_file:
        raise CliError("give the client's public key with --jwks-file FILE, or --generate-key", 2)
    jwks_file = _read_jwks(Path(args.jwks_file)) if args.jwks_file else None
    data = data_dir.open_existing(settings)
    try:
        key_path: Path | None = None
        if args.generate_key:
            private, jwks = new_client_key(args.client_id)
            key_path = settings.data_dir / "clients" / f"{args.client_id}.jwk"
        else:
            assert jwks_file is not None
            jwks = jwks_file
        body: dict[str, Any] = {
            "client_id": args.client_id,
            "client_type": args.type,
            "jwks": jwks,
        }
        if args.resource:
            body["resource"] = args.resource
        if args.name is not None:
            body["client_name"] = args.name
        client = validate_client(body, source="cli")
        save_client(data.db, client)
        if key_path is not None:
            key_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_private_file(key_path, json.dumps(private, indent=2) + "\n")
            print(f"private key written to {key_path} (keep it secret)")
    except (ClientError, ValueError) as exc:
        raise CliError(str(exc), 1) from None
    finally:
        data.db.close()
    print(f"client {args.client_id!r} ({args.type}) registered")
    return 0


def _read_jwks(path: Path) -> dict[str, Any]:
    """The --jwks-file: a public JWK or a JWK set, as a JWK set."""
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CliError(f"--jwks-file {path}: cannot read it: {exc.strerror or exc}", 2) from None
    except ValueError as exc:  # JSON or UTF-8
        raise CliError(f"--jwks-file {path} is not JSON: {exc}", 2) from None
    if not isinstance(loaded, dict):
        raise CliError(f"--jwks-file {path}: give a JWK or a JWK set (a JSON object)", 2)
    return loaded if "keys" in loaded else {"keys": [loaded]}


def cmd_client_list(args: argparse.Namespace) -> int:

    data = data_dir.open_existing(_settings(args))
    for client in list_clients(data.db):
        print(
            f"{client.client_id}\t{client.client_type}\t{client.resource or '-'}\t{client.source}"
            f"\t{client.client_name or '-'}"
        )
    data.db.close()
    return 0


def cmd_client_remove(args: argparse.Namespace) -> int:

    settings = _settings(args)
    data = data_dir.open_existing(settings)
    try:
        removed = delete_client(data.db, args.client_id)
    finally:
        data.db.close()
    if not removed:
        raise CliError(
            f"no client {args.client_id!r} in {settings.data_dir}: `mcp-auth client list "
            f"--data-dir {settings.data_dir}` shows the registered ones",
            1,
        )
    print(f"client {args.client_id!r} removed")
    return 0


# -- keys, audit --------------------------------------------------------------------------
def cmd_keys_rotate(args: argparse.Namespace) -> int:

    settings = _settings(args)
    data_dir.require(settings)
    store = KeyStore(settings.keys_dir, retention=key_retention(settings))
    store.ensure()
    created = store.rotate(compromised=args.compromised)
    for key in created:
        print(f"new {key.alg} key {key.kid}")
    if args.compromised:
        print("previous keys deleted: tokens they signed no longer verify")
    else:
        print(
            f"new keys are published now and sign from {ROTATION_LEAD} s on; the previous "
            f"keys sign until then and stay published {store.retention} s longer"
        )
    return 0


def _open_log(path: Path) -> Database:
    """The issuer database opened read-only, or ``CliError`` (exit 2): it cannot be checked."""
    try:
        db = Database.open_read_only(path)
        version = db.schema_version()
    except sqlite3.Error as exc:
        raise CliError(
            f"cannot open the issuer database {path}: {exc}; the audit log was not checked",
            EXIT_CANNOT_CHECK,
        ) from None
    if version != SCHEMA_VERSION:
        age = "older" if version < SCHEMA_VERSION else "newer"
        print(
            f"note: {path} has schema version {version}, {age} than this issuer's "
            f"({SCHEMA_VERSION}); checking its audit table as it is",
            file=sys.stderr,
        )
    return db


def cmd_audit_verify(args: argparse.Namespace) -> int:

    settings = _settings(args)
    data_dir.require(settings)
    db = _open_log(settings.db_path)
    show = args.progress or sys.stderr.isatty()
    last = [time.monotonic()]

    def progress(checked: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 1.0:
            last[0] = now
            print(f"audit verify: {checked} events checked", file=sys.stderr, flush=True)

    try:
        report = verify_chain(db, progress=progress if show else None, progress_every=1000)
    except sqlite3.Error as exc:
        raise CliError(
            f"cannot read the audit log in {settings.db_path}: {exc}; it was not checked",
            EXIT_CANNOT_CHECK,
        ) from None
    finally:
        db.close()
    if report.ok:
        print(f"audit chain OK: {report.checked} events")
        if report.head_seq is not None:
            print(f"head: seq={report.head_seq} hash={report.head_hash}")
        return 0
    print(
        f"audit chain BROKEN at record seq={report.broken_seq} (position {report.position}, "
        f"check {report.check}): {report.reason}; {report.checked} events before it verified"
    )
    return 1


# -- demo ---------------------------------------------------------------------------------
def cmd_demo_seed(args: argparse.Namespace) -> int:

    settings = _settings(args)
    target = Path(args.write_target).expanduser() if args.write_target else None
    if target is not None and target.is_dir():
        raise CliError(f"--write-target {target} is a directory: give a file name", 2)
    try:
        tool_urls = (
            tool_urls_from_port_base(args.tool_port_base)
            if args.tool_port_base is not None
            else args.tool_url
        )
        demo_clients(tool_urls, args.resource_url)  # refused before anything is created
    except DemoError as exc:
        raise CliError(str(exc), 1) from None
    data_dir.open_or_create(settings).db.close()
    try:
        state = seed(settings, target, tool_urls=tool_urls, resource_url=args.resource_url)
    except (DemoError, ClientError) as exc:
        raise CliError(str(exc), 1) from None
    except OSError as exc:
        if target is None or exc.filename not in (str(target), target):
            raise
        raise CliError(
            f"--write-target {target}: cannot write it: {exc.strerror or exc}", 2
        ) from None
    print(
        f"demo seeded in {settings.data_dir}\n"
        f"  user      {state['user']}  password: {state['password']}\n"
        f"  agent     {state['agent']['client_id']}  (key {state['agent']['private_jwk_file']})\n"
        + "".join(f"  tool      {t['client_id']}  {t['resource']}\n" for t in state["tools"])
        + f"  resource  {state['resource']['client_id']}  {state['resource']['resource']}\n"
        f"  model     {state['model']}\n"
        f"  grant     {state['grant_id']} (active)\n"
        + (f"  conformance target written to {target}\n" if target else "")
        + "Next steps:\n"
        f"  1. mcp-auth serve --data-dir {settings.data_dir} --issuer-url {settings.issuer_url}\n"
        f"  2. mcp-auth demo chain --data-dir {settings.data_dir}\n"
        f"  3. open {settings.consent_endpoint} and sign in as {state['user']}"
    )
    return 0


def cmd_demo_chain(args: argparse.Namespace) -> int:

    settings = _settings(args)
    state_path = demo_dir(settings) / "demo.json"
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
        url = args.issuer_url or state["issuer_url"]
    except FileNotFoundError:
        raise CliError(
            f"no demo in {settings.data_dir} (no {state_path}): check --data-dir, or run "
            f"`mcp-auth demo seed --data-dir {settings.data_dir}` first",
            1,
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CliError(
            f"cannot read the demo state {state_path} ({exc}): run `mcp-auth demo seed` again", 1
        ) from None
    try:
        return chain(settings, args.issuer_url)
    except httpx.TransportError as exc:
        raise CliError(
            f"cannot reach the issuer at {url} ({exc or type(exc).__name__}): start it with "
            f"`mcp-auth serve --data-dir {settings.data_dir}` in another terminal, or give its "
            "address with --issuer-url",
            1,
        ) from None


def register(subparsers: Any) -> None:
    serve_p = subparsers.add_parser(
        "serve",
        help="run the reference Delegation Issuer",
        description="Run the reference Delegation Issuer; on the first start it creates the "
        "data directory, database, signing keys and admin token.",
        epilog=examples(
            "mcp-auth serve --data-dir ./demo-data",
            "mcp-auth serve --port 9400 --data-dir ./demo-data",
        ),
    )
    serve_p.add_argument("--host", default=DEFAULT_HOST, help="address to listen on")
    serve_p.add_argument("--port", type=port, default=DEFAULT_PORT, help="port to listen on")
    _add_data_dir(serve_p)
    serve_p.add_argument(
        "--config",
        metavar="FILE",
        help="TOML file with [[clients]] to register at start (default: none)",
    )
    serve_p.add_argument(
        "--issuer-url",
        metavar="URL",
        help="issuer identifier: https, or http on a loopback host, no path "
        "(default: http://HOST:PORT)",
    )
    serve_p.add_argument(
        "--max-connections",
        type=_connections,
        default=DEFAULT_MAX_CONNECTIONS,
        metavar="N",
        help="open connections at most; more are closed at once, and the cap is kept below "
        "the file descriptor limit (default: %(default)s)",
    )
    serve_p.add_argument(
        "--request-timeout",
        type=seconds(1, 300),
        default=int(DEFAULT_REQUEST_TIMEOUT),
        metavar="SECONDS",
        help="a request's headers and body must arrive within this, or the connection is "
        "closed (default: %(default)s)",
    )
    serve_p.set_defaults(handler=cmd_serve)

    init = subparsers.add_parser(
        "init",
        help="create a data directory (database, signing keys, admin token)",
        description="Create the issuer's data directory, as the first `serve` would, "
        "without starting the server; an existing one is left as it is.",
        epilog=examples("mcp-auth init --data-dir ./issuer-data"),
    )
    _add_data_dir(init)
    init.set_defaults(handler=cmd_init)

    user = subparsers.add_parser(
        "user",
        help="manage consent-page users",
        epilog=examples("printf '%s\\n' \"$PASSWORD\" | mcp-auth user add bob --password-stdin"),
    )
    user_sub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = user_sub.add_parser(
        "add",
        help="create a user or set a new password",
        description="Create a consent-page user, or set a new password for an existing one.",
        epilog=examples(
            "mcp-auth user add bob --data-dir ./demo-data",
            "printf '%s\\n' \"$PASSWORD\" | mcp-auth user add bob --password-stdin",
        ),
    )
    add.add_argument("name", help="user name: 1 to 64 letters, digits and . _ @ -")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin (default: ask twice on the terminal)",
    )
    _add_data_dir(add)
    add.set_defaults(handler=cmd_user_add)

    client = subparsers.add_parser(
        "client",
        help="manage registered clients",
        epilog=examples(
            "mcp-auth client add my-tool --type tool --resource https://tool.example/mcp "
            "--generate-key",
            "mcp-auth client list",
            "mcp-auth client remove my-tool",
        ),
    )
    client_sub = client.add_subparsers(dest="client_command", required=True, metavar="ACTION")
    cadd = client_sub.add_parser(
        "add",
        help="register (or replace) a client",
        description="Register a client (agent runtime, tool or resource server) with its "
        "public key; an existing client_id is replaced.",
        epilog=examples(
            "mcp-auth client add my-tool --type tool --resource https://tool.example/mcp "
            "--generate-key --data-dir ./demo-data",
            "mcp-auth client add my-agent --type agent --jwks-file agent.pub.json",
        ),
    )
    cadd.add_argument("client_id", help="the client's identifier")
    cadd.add_argument(
        "--type", required=True, choices=("agent", "tool", "resource"), help="kind of client"
    )
    cadd.add_argument(
        "--resource",
        metavar="URI",
        help="resource identifier, the aud of tokens for it (tool and resource clients; "
        "default: none)",
    )
    cadd.add_argument(
        "--name",
        help="display name shown to users on the consent page (client_name; default: none)",
    )
    keys_group = cadd.add_mutually_exclusive_group()
    keys_group.add_argument(
        "--jwks-file",
        metavar="FILE",
        help="public JWK or JWK set (JSON) (default: none; give it or --generate-key)",
    )
    keys_group.add_argument(
        "--generate-key",
        action="store_true",
        help="generate an ES256 key; private JWK written to DIR/clients/CLIENT_ID.jwk",
    )
    _add_data_dir(cadd)
    cadd.set_defaults(handler=cmd_client_add)
    clist = client_sub.add_parser(
        "list",
        help="list registered clients",
        description="One line per client: client_id, type, resource, source, display name.",
        epilog=examples("mcp-auth client list --data-dir ./demo-data"),
    )
    _add_data_dir(clist)
    clist.set_defaults(handler=cmd_client_list)
    crm = client_sub.add_parser(
        "remove",
        help="remove a client",
        epilog=examples("mcp-auth client remove my-tool --data-dir ./demo-data"),
    )
    crm.add_argument("client_id", help="the client to remove")
    _add_data_dir(crm)
    crm.set_defaults(handler=cmd_client_remove)

    keys = subparsers.add_parser(
        "keys",
        help="manage the issuer's signing keys",
        epilog=examples("mcp-auth keys rotate --data-dir ./demo-data"),
    )
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    rotate = keys_sub.add_parser(
        "rotate",
        help="new signing keys; old ones retired",
        description="Create new signing keys; the previous ones keep signing for "
        f"{ROTATION_LEAD} s and stay published until what they signed has expired.",
        epilog=examples(
            "mcp-auth keys rotate --data-dir ./demo-data",
            "mcp-auth keys rotate --compromised --data-dir ./demo-data",
        ),
    )
    rotate.add_argument(
        "--compromised",
        action="store_true",
        help="delete the current keys at once instead of retiring them (key compromise)",
    )
    _add_data_dir(rotate)
    rotate.set_defaults(handler=cmd_keys_rotate)

    audit_p = subparsers.add_parser(
        "audit",
        help="the audit log",
        epilog=examples("mcp-auth audit verify --data-dir ./demo-data"),
    )
    audit_sub = audit_p.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = audit_sub.add_parser(
        "verify",
        help="verify the whole hash chain",
        description="Verify every record of the hash-chained audit log, reading the database "
        "read-only (a read-only copy will do); stop at the first broken record.",
        epilog=examples("mcp-auth audit verify --data-dir ./demo-data") + "\n\nexit status:\n"
        "  0  the chain is intact (the head is printed)\n"
        "  1  the chain is broken (the first broken record is named)\n"
        "  2  the log could not be checked: no data directory, no database, not a database,\n"
        "     unreadable",
    )
    _add_data_dir(verify)
    verify.add_argument(
        "--progress",
        action="store_true",
        help="report progress on stderr about once a second (default: only when stderr is a "
        "terminal)",
    )
    verify.set_defaults(handler=cmd_audit_verify)

    register_grant(subparsers)

    demo = subparsers.add_parser(
        "demo",
        help="the whole chain in one command (or ACTION: seed, chain; step by step)",
        epilog=examples(
            "mcp-auth demo --yes",
            "mcp-auth demo seed --data-dir ./demo-data",
            "mcp-auth demo chain --data-dir ./demo-data",
        ),
    )
    add_demo_options(demo)
    demo_sub = demo.add_subparsers(dest="demo_command", required=False, metavar="[ACTION]")
    seed_p = demo_sub.add_parser(
        "seed",
        help="create a demo user, clients and an active grant",
        description="Create (or replace) the demo user alice, an agent, three tools, a "
        "resource server and an active grant in the data directory.",
        epilog=examples(
            "mcp-auth demo seed --data-dir ./demo-data",
            "mcp-auth demo seed --data-dir ./demo-data --tool-port-base 9401",
        ),
    )
    _add_data_dir(seed_p)
    seed_p.add_argument(
        "--issuer-url",
        metavar="URL",
        default=f"http://{DEFAULT_HOST}:{DEFAULT_PORT}",
        help="the issuer's URL, written to the demo state and the target file",
    )
    seed_p.add_argument(
        "--write-target",
        metavar="FILE",
        help="also write a conformance target TOML here (default: none)",
    )
    tool_addresses = seed_p.add_mutually_exclusive_group()
    tool_addresses.add_argument(
        "--tool-url",
        action="append",
        metavar="URL",
        help="resource identifier of a demo tool; repeat for demo-tool-1, -2, -3 (1 to 3 "
        "tools; default http://127.0.0.1:8401/mcp, :8411/mcp and :8421/mcp)",
    )
    tool_addresses.add_argument(
        "--tool-port-base",
        type=int,
        metavar="PORT",
        help="the three demo tools at http://127.0.0.1:PORT/mcp, PORT+10 and PORT+20 "
        "(default: the --tool-url default)",
    )
    seed_p.add_argument(
        "--resource-url",
        metavar="URL",
        default=DEMO_RESOURCE[1],
        help="resource identifier of the demo resource server",
    )
    seed_p.set_defaults(handler=cmd_demo_seed)
    run = demo_sub.add_parser(
        "chain",
        help="run issuance, exchanges, introspection, revocation against a running issuer",
        description="Against a running issuer (`mcp-auth serve`), run the seeded demo: "
        "issuance, one exchange per tool, introspection, revocation, and the refused exchange.",
        epilog=examples("mcp-auth demo chain --data-dir ./demo-data"),
    )
    _add_data_dir(run)
    run.add_argument(
        "--issuer-url", metavar="URL", help="the issuer (default: the URL given to demo seed)"
    )
    run.set_defaults(handler=cmd_demo_chain)
