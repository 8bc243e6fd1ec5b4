"""``mcp-auth grant request``: ask the issuer for a pending grant, as an agent would.

    mcp-auth grant request --data-dir ./demo-data --client-id demo-agent --sub alice \\
        --resource http://127.0.0.1:8401/mcp --resource http://127.0.0.1:8402 \\
        --scope "files:read data:read" --tool demo-tool-1 --model demo-model \\
        --purpose "Read my files" [--expires-in 3600] [--wait]

The agent authenticates with its registered key (a ``private_key_jwt`` client assertion,
``IssuerClient``) and POSTs the grant-create body of spec section 2.3.1 to ``/grants``. It
prints the grant id and the ``approval_uri`` where the user approves or denies it; with
``--wait`` it then reads the grant every 5 seconds (MCPA-GRT-021) until the user decided.

The agent's private key: ``--key FILE``, else the one ``mcp-auth demo seed`` or
``mcp-auth client add --generate-key`` stored in the data directory. Every error is one line.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from mcp_auth.command_errors import CliError

from .client import IssuerClient, IssuerError, load_private_jwk
from .settings import DEFAULT_HOST, DEFAULT_PORT, default_data_dir

POLL_INTERVAL = 5.0  # MCPA-GRT-021: a pending grant is read at most once every 5 seconds
DEFAULT_WAIT = 600.0


def _fail(message: str) -> CliError:
    """A mistake the user can fix: one line on stderr, exit 1 (``mcp_auth.command_errors``)."""
    return CliError(message)


def _demo_state(data_dir: Path) -> dict[str, Any]:
    path = data_dir / "demo" / "demo.json"
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def agent_key_file(data_dir: Path, client_id: str) -> Path | None:
    """Where the demo seed or ``client add --generate-key`` stored this client's key."""
    agent = _demo_state(data_dir).get("agent")
    if isinstance(agent, dict) and agent.get("client_id") == client_id:
        return Path(str(agent.get("private_jwk_file")))
    for path in (data_dir / "clients" / f"{client_id}.jwk", data_dir / "demo" / f"{client_id}.jwk"):
        if path.is_file():
            return path
    return None


def explain(exc: Exception, issuer_url: str, client_id: str) -> str:
    """One line for an error talking to the issuer."""
    if isinstance(exc, httpx.TransportError):
        return (
            f"cannot reach the issuer at {issuer_url} ({type(exc).__name__}): is "
            "`mcp-auth serve` running there? (see --issuer-url)"
        )
    if isinstance(exc, IssuerError):
        if exc.error == "invalid_client":
            return (
                f"the issuer did not accept the client assertion of {client_id!r} "
                f"(invalid_client): is {client_id!r} registered there, with this key?"
            )
        if exc.error == "access_denied":
            return f"the issuer refused: {client_id!r} is not an agent client (access_denied)"
        detail = f": {exc.description}" if exc.description else ""
        return f"the issuer refused the request ({exc.status} {exc.error}){detail}"
    return f"unexpected answer from the issuer at {issuer_url}: {exc}"


def grant_body(args: argparse.Namespace, models: list[str]) -> dict[str, Any]:
    """The grant-create request of spec section 2.3.1 from the command line."""
    body: dict[str, Any] = {
        "sub": args.sub,
        "resources": list(dict.fromkeys(args.resource)),
        "scopes": list(dict.fromkeys(s for value in args.scope for s in value.split())),
        "tools": list(dict.fromkeys(args.tool or [])),
        "models": list(dict.fromkeys(models)),
    }
    for member in ("max_depth", "max_token_lifetime", "expires_in", "purpose"):
        value = getattr(args, member)
        if value is not None:
            body[member] = value
    return body


def wait_for_decision(
    agent: IssuerClient,
    grant_id: str,
    timeout: float,
    *,
    interval: float = POLL_INTERVAL,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Read the grant until it is no longer pending or ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    while True:
        grant = agent.get_grant(grant_id)
        left = deadline - time.monotonic()
        if grant.get("status") != "pending" or left <= 0:
            return grant
        sleep(min(interval, left))


def cmd_grant_request(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).expanduser() if args.data_dir else default_data_dir()
    state = _demo_state(data_dir)
    issuer_url = (
        args.issuer_url or state.get("issuer_url") or f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
    )
    key_file = Path(args.key) if args.key else agent_key_file(data_dir, args.client_id)
    if key_file is None:
        raise _fail(
            f"no private key for {args.client_id!r} in {data_dir}: give --key FILE or the "
            "--data-dir where `mcp-auth demo seed` or `mcp-auth client add --generate-key` put it"
        )
    try:
        private_jwk = load_private_jwk(key_file)
    except (OSError, ValueError) as exc:
        raise _fail(f"cannot read the private key {key_file}: {exc}") from None
    models = args.model or ([state["model"]] if isinstance(state.get("model"), str) else [])
    if not models:
        raise _fail("give at least one --model (the model the agent may name)")
    body = grant_body(args, models)
    with httpx.Client(timeout=10.0) as http:
        agent = IssuerClient(issuer_url, args.client_id, private_jwk, http=http)
        try:
            grant = agent.create_grant(body)
            if args.json:
                print(json.dumps(grant, indent=2))
            else:
                print(
                    f"grant requested: {grant['grant_id']} ({grant['status']})\n"
                    f"  agent         {grant['client_id']}\n"
                    f"  for user      {grant['sub']}\n"
                    f"  approve/deny  {grant.get('approval_uri', '-')}\n"
                    f"                (sign in there as {grant['sub']})",
                    flush=True,
                )
            if not args.wait or grant["status"] != "pending":
                return 0
            print(
                f"waiting for {grant['sub']} to decide (checking every {POLL_INTERVAL:g} s, "
                f"at most {args.timeout:g} s; Ctrl-C stops waiting)...",
                flush=True,
            )
            final = wait_for_decision(agent, grant["grant_id"], args.timeout)
        except (httpx.TransportError, IssuerError) as exc:
            raise _fail(explain(exc, issuer_url, args.client_id)) from None
    status = final.get("status")
    if status == "pending":
        print(f"still pending after {args.timeout:g} s")
        return 1
    print(f"the grant is now {status}")
    return 0 if status == "active" else 1


def register_grant(subparsers: Any) -> None:
    example = (
        "example:\n  mcp-auth grant request --data-dir ./demo-data --client-id demo-agent "
        "--sub alice --resource http://127.0.0.1:8401/mcp --scope files:read "
        "--tool demo-tool-1 --model demo-model --purpose 'Read my files'"
    )
    grant = subparsers.add_parser("grant", help="grants, from the agent's side", epilog=example)
    grant_sub = grant.add_subparsers(dest="grant_command", required=True, metavar="ACTION")
    req = grant_sub.add_parser(
        "request",
        help="ask the issuer for a pending grant as an agent; prints the approval URL",
        description="Ask the issuer for a grant as an agent (POST /grants with a "
        "private_key_jwt client assertion). The grant stays pending until the user approves "
        "or denies it at the printed approval URL.",
        epilog=example,
    )
    req.add_argument(
        "--data-dir",
        metavar="DIR",
        help="data directory holding the agent's key (default: $MCP_AUTH_DATA_DIR, "
        "$XDG_DATA_HOME/mcp-auth or ~/.local/share/mcp-auth)",
    )
    req.add_argument(
        "--key", metavar="FILE", help="the agent's private JWK (default: found in --data-dir)"
    )
    req.add_argument(
        "--issuer-url",
        metavar="URL",
        help="the issuer (default: the URL given to demo seed, else http://127.0.0.1:8400)",
    )
    req.add_argument("--client-id", required=True, help="the agent's client_id")
    req.add_argument("--sub", required=True, help="the user the agent will act for")
    req.add_argument(
        "--resource",
        required=True,
        action="append",
        metavar="URI",
        help="a resource the tokens may be for (repeat; include the tools' own URIs)",
    )
    req.add_argument(
        "--scope",
        required=True,
        action="append",
        help="scope tokens the tokens may carry (space-separated; may repeat)",
    )
    req.add_argument(
        "--tool",
        action="append",
        metavar="CLIENT_ID",
        help="a tool that may exchange (repeat; default: none)",
    )
    req.add_argument(
        "--model",
        action="append",
        help="a model the agent may name (repeat; default: the demo's model, if seeded)",
    )
    req.add_argument("--purpose", help="why the agent asks, shown to the user (default: none)")
    req.add_argument(
        "--expires-in", type=int, metavar="SECONDS", help="grant lifetime (default: the issuer's)"
    )
    req.add_argument(
        "--max-depth", type=int, metavar="N", help="largest chain depth (default: the issuer's)"
    )
    req.add_argument(
        "--max-token-lifetime",
        type=int,
        metavar="SECONDS",
        help="largest token lifetime (default: the issuer's)",
    )
    req.add_argument("--wait", action="store_true", help="wait until the user decided")
    req.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_WAIT,
        metavar="SECONDS",
        help="with --wait: give up after this long (default: %(default)g s)",
    )
    req.add_argument("--json", action="store_true", help="print the grant object as JSON")
    req.set_defaults(handler=cmd_grant_request)
