"""``mcp-auth`` subcommands of the reference issuer.

serve, user add, client add/list/remove, keys rotate, audit verify, demo, demo seed, demo
chain (and ``grant request``, from ``grant_cli``).
Each subcommand sets ``handler`` (namespace -> exit code).
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from pathlib import Path
from typing import Any

from .app import create_app, key_retention, open_data_dir
from .audit import verify_chain
from .client import new_client_key
from .clients import ClientError, delete_client, list_clients, save_client, validate_client
from .demo import DEMO_RESOURCE, DemoError, chain, seed, tool_urls_from_port_base
from .demo_story import add_demo_options
from .grant_cli import register_grant
from .keys import ROTATION_LEAD, KeyStore, write_private_file
from .settings import DEFAULT_HOST, DEFAULT_PORT, Settings, default_data_dir
from .storage import Database
from .users import UserError, add_user


def _data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data_dir).expanduser() if args.data_dir else default_data_dir()


def _settings(args: argparse.Namespace, **extra: Any) -> Settings:
    url = getattr(args, "issuer_url", None) or f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
    return Settings(data_dir=_data_dir(args), issuer_url=url, **extra)


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        help="data directory (default: $MCP_AUTH_DATA_DIR, $XDG_DATA_HOME/mcp-auth or "
        "~/.local/share/mcp-auth)",
    )


# -- serve --------------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn  # noqa: PLC0415 - only the server needs it

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    issuer_url = args.issuer_url or f"http://{args.host}:{args.port}"
    settings = Settings(
        data_dir=_data_dir(args),
        issuer_url=issuer_url,
        config_file=Path(args.config) if args.config else None,
    )
    first_run = not settings.db_path.exists()
    data = open_data_dir(settings)
    data.db.close()
    app = create_app(settings)
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
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_level="info")
    return 0


# -- users --------------------------------------------------------------------------------
def cmd_user_add(args: argparse.Namespace) -> int:

    settings = _settings(args)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("passwords differ", file=sys.stderr)
            return 1
    else:
        print("no terminal: pass --password-stdin and the password on stdin", file=sys.stderr)
        return 2
    data = open_data_dir(settings)
    try:
        add_user(data.db, args.name, password)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        data.db.close()
    print(f"user {args.name!r} saved in {settings.db_path}")
    return 0


# -- clients ------------------------------------------------------------------------------
def cmd_client_add(args: argparse.Namespace) -> int:

    settings = _settings(args)
    data = open_data_dir(settings)
    try:
        key_path: Path | None = None
        if args.generate_key:
            private, jwks = new_client_key(args.client_id)
            key_path = settings.data_dir / "clients" / f"{args.client_id}.jwk"
        elif args.jwks_file:
            loaded = json.loads(Path(args.jwks_file).read_text(encoding="utf-8"))
            jwks = loaded if "keys" in loaded else {"keys": [loaded]}
        else:
            print("give --jwks-file FILE or --generate-key", file=sys.stderr)
            return 2
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
    except (ClientError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        data.db.close()
    print(f"client {args.client_id!r} ({args.type}) registered")
    return 0


def cmd_client_list(args: argparse.Namespace) -> int:

    data = open_data_dir(_settings(args))
    for client in list_clients(data.db):
        print(
            f"{client.client_id}\t{client.client_type}\t{client.resource or '-'}\t{client.source}"
            f"\t{client.client_name or '-'}"
        )
    data.db.close()
    return 0


def cmd_client_remove(args: argparse.Namespace) -> int:

    data = open_data_dir(_settings(args))
    removed = delete_client(data.db, args.client_id)
    data.db.close()
    print(f"client {args.client_id!r} {'removed' if removed else 'not found'}")
    return 0 if removed else 1


# -- keys, audit --------------------------------------------------------------------------
def cmd_keys_rotate(args: argparse.Namespace) -> int:

    settings = _settings(args)
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


def cmd_audit_verify(args: argparse.Namespace) -> int:

    settings = _settings(args)
    if not settings.db_path.exists():
        print(f"no issuer database in {settings.data_dir}", file=sys.stderr)
        return 2
    db = Database(settings.db_path)
    report = verify_chain(db)
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
    target = Path(args.write_target) if args.write_target else None
    try:
        tool_urls = (
            tool_urls_from_port_base(args.tool_port_base)
            if args.tool_port_base is not None
            else args.tool_url
        )
        state = seed(settings, target, tool_urls=tool_urls, resource_url=args.resource_url)
    except (DemoError, ClientError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
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

    return chain(_settings(args), args.issuer_url)


def register(subparsers: Any) -> None:
    serve = subparsers.add_parser("serve", help="run the reference Delegation Issuer")
    serve.add_argument("--host", default=DEFAULT_HOST)
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    _add_data_dir(serve)
    serve.add_argument("--config", help="TOML file with [[clients]] to register at start")
    serve.add_argument("--issuer-url", help="issuer identifier (default http://HOST:PORT)")
    serve.set_defaults(handler=cmd_serve)

    user = subparsers.add_parser("user", help="manage consent-page users")
    user_sub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = user_sub.add_parser("add", help="create a user or set a new password")
    add.add_argument("name")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin",
    )
    _add_data_dir(add)
    add.set_defaults(handler=cmd_user_add)

    client = subparsers.add_parser("client", help="manage registered clients")
    client_sub = client.add_subparsers(dest="client_command", required=True, metavar="ACTION")
    cadd = client_sub.add_parser("add", help="register (or replace) a client")
    cadd.add_argument("client_id")
    cadd.add_argument("--type", required=True, choices=("agent", "tool", "resource"))
    cadd.add_argument("--resource", help="resource URI (tool and resource clients)")
    cadd.add_argument(
        "--name", help="display name shown to users on the consent page (client_name)"
    )
    keys_group = cadd.add_mutually_exclusive_group()
    keys_group.add_argument("--jwks-file", help="public JWK or JWK set (JSON)")
    keys_group.add_argument(
        "--generate-key",
        action="store_true",
        help="generate an ES256 key; private JWK written to the data dir",
    )
    _add_data_dir(cadd)
    cadd.set_defaults(handler=cmd_client_add)
    clist = client_sub.add_parser("list", help="list registered clients")
    _add_data_dir(clist)
    clist.set_defaults(handler=cmd_client_list)
    crm = client_sub.add_parser("remove", help="remove a client")
    crm.add_argument("client_id")
    _add_data_dir(crm)
    crm.set_defaults(handler=cmd_client_remove)

    keys = subparsers.add_parser("keys", help="manage the issuer's signing keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    rotate = keys_sub.add_parser("rotate", help="new signing keys; old ones retired")
    rotate.add_argument(
        "--compromised",
        action="store_true",
        help="delete the current keys at once instead of retiring them (key compromise)",
    )
    _add_data_dir(rotate)
    rotate.set_defaults(handler=cmd_keys_rotate)

    audit_p = subparsers.add_parser("audit", help="the audit log")
    audit_sub = audit_p.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = audit_sub.add_parser("verify", help="verify the whole hash chain")
    _add_data_dir(verify)
    verify.set_defaults(handler=cmd_audit_verify)

    register_grant(subparsers)

    demo = subparsers.add_parser(
        "demo", help="the whole chain in one command (or ACTION: seed, chain; step by step)"
    )
    add_demo_options(demo)
    demo_sub = demo.add_subparsers(dest="demo_command", required=False, metavar="[ACTION]")
    seed = demo_sub.add_parser("seed", help="create a demo user, clients and an active grant")
    _add_data_dir(seed)
    seed.add_argument("--issuer-url", default=f"http://{DEFAULT_HOST}:{DEFAULT_PORT}")
    seed.add_argument("--write-target", help="write a conformance target TOML here")
    tool_addresses = seed.add_mutually_exclusive_group()
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
        help="the three demo tools at http://127.0.0.1:PORT/mcp, PORT+10 and PORT+20",
    )
    seed.add_argument(
        "--resource-url",
        metavar="URL",
        default=DEMO_RESOURCE[1],
        help="resource identifier of the demo resource server (%(default)s)",
    )
    seed.set_defaults(handler=cmd_demo_seed)
    run = demo_sub.add_parser(
        "chain", help="run issuance, exchanges, introspection, revocation against a running issuer"
    )
    _add_data_dir(run)
    run.add_argument("--issuer-url", help="default: the URL given to demo seed")
    run.set_defaults(handler=cmd_demo_chain)
