"""``mcp-auth demo``: the whole story in one command, on this machine.

1. seed a fresh temporary data directory (``demo.seed`` on free loopback ports, no grant);
2. start the issuer (``mcp-auth serve``), the three tools (``mcp-auth mcp-example`` as
   ``demo-tool-1..3``) and the resource server (``mcp-auth resource-server``) as child
   processes, logging to the data directory, and wait until each answers;
3. as ``demo-agent``, ask for a grant through the grants API (``POST /grants``): it is
   **pending**; print its consent URL and the demo user's name and password;
4. wait for the person to approve it on the consent page (reading the grant every 5 s,
   MCPA-GRT-021; ``--timeout``), or with ``--yes`` approve it through the page's own forms;
5. run the checked steps of ``demo_steps`` (the same as ``mcp-auth demo chain``), each token
   also presented to the running server it is meant for, and print them;
6. stop every process it started and remove the data directory (unless ``--keep``).

Exit 0 when every step behaved as specified, 1 when one did not (or the grant was denied,
or nobody decided in time), 130 on Ctrl-C (SIGINT) or SIGTERM, after the same clean-up.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from .client import IssuerClient, IssuerError, load_private_jwk
from .demo import DEMO_PURPOSE, DEMO_SCOPES, DEMO_TOOLS, DemoError, demo_dir, seed
from .demo_consent import ConsentError, decide_on_consent_page
from .demo_steps import FINAL_SCOPE, Servers, show_chain
from .grant_cli import POLL_INTERVAL, explain, wait_for_decision
from .keys import write_private_file
from .settings import Settings

HOST = "127.0.0.1"
STARTUP_TIMEOUT = 60.0  # seconds for every server to answer (a loaded machine is slow)
STOP_TIMEOUT = 5.0
DEFAULT_TIMEOUT = 600.0
GRANT_EXPIRES_IN = 3600


class DemoFailure(Exception):
    """Something outside the checked steps went wrong (one line, exit 1)."""


@dataclass
class Child:
    name: str
    url: str  # where it is shown to answer
    probe: str  # a URL that answers once it is up
    proc: subprocess.Popen[bytes]
    log: Path

    def reason(self) -> str:
        """The last line of its log that reports an error, else its last line."""
        try:
            lines = self.log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        errors = [line for line in lines if "error" in line.lower()]
        return (errors or lines or [""])[-1].strip()


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on the loopback now (all held open while choosing)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind((HOST, 0))
        return [int(sock.getsockname()[1]) for sock in socks]


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM wait while a child is started and recorded (none left unknown).

    Not by blocking them: a child inherits the signal mask, and would then ignore SIGTERM.
    """
    caught: list[int] = []
    sigs = (signal.SIGINT, signal.SIGTERM)
    old = {sig: signal.signal(sig, lambda signum, _frame: caught.append(signum)) for sig in sigs}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    if caught:
        raise KeyboardInterrupt


def _interrupt(signum: int, frame: FrameType | None) -> None:
    del signum, frame
    raise KeyboardInterrupt


class Story:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.children: list[Child] = []
        self.data_dir = Path(tempfile.mkdtemp(prefix="mcp-auth-demo-"))
        self.logs = self.data_dir / "logs"
        issuer, *tools, resource = free_ports(len(DEMO_TOOLS) + 2)
        self.issuer_url = f"http://{HOST}:{issuer}"
        self.tool_urls = [f"http://{HOST}:{port}/mcp" for port in tools]
        self.resource_url = f"http://{HOST}:{resource}"
        self.settings = Settings(data_dir=self.data_dir, issuer_url=self.issuer_url)

    # -- processes ------------------------------------------------------------------------
    def start(self, name: str, url: str, probe: str, *argv: str) -> None:
        self.logs.mkdir(exist_ok=True)
        log = self.logs / f"{name}.log"
        with log.open("wb") as out, signals_deferred():
            proc = subprocess.Popen(
                [sys.executable, "-m", "mcp_auth", *argv],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # the terminal's Ctrl-C reaches only the demo
            )
            self.children.append(Child(name, url, probe, proc, log))

    def start_all(self) -> None:
        d = str(self.data_dir)
        port = self.issuer_url.rsplit(":", 1)[1]
        self.start(
            "issuer",
            self.issuer_url,
            f"{self.issuer_url}/.well-known/oauth-authorization-server",
            *("serve", "--data-dir", d, "--host", HOST, "--port", port),
            *("--issuer-url", self.issuer_url),
        )
        for number, url in enumerate(self.tool_urls, start=1):
            origin = url.removesuffix("/mcp")
            self.start(
                f"demo-tool-{number}",
                url,
                f"{origin}/.well-known/oauth-protected-resource/mcp",
                *("mcp-example", "--issuer", self.issuer_url, "--data-dir", d, "--host", HOST),
                *("--port", origin.rsplit(":", 1)[1], "--resource", url),
                *("--client-id", f"demo-tool-{number}", "--scope", FINAL_SCOPE),
                *("--downstream", self.resource_url),
            )
        self.start(
            "resource",
            f"{self.resource_url}/data",
            f"{self.resource_url}/.well-known/oauth-protected-resource",
            *("resource-server", "--issuer", self.issuer_url, "--resource", self.resource_url),
            *("--scope", FINAL_SCOPE, "--host", HOST),
            *("--port", self.resource_url.rsplit(":", 1)[1], "--log-level", "warning"),
        )

    def wait_all(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        waiting = list(self.children)
        with httpx.Client(timeout=2.0) as http:
            while waiting:
                for child in list(waiting):
                    code = child.proc.poll()
                    if code is not None:
                        raise DemoFailure(
                            f"{child.name} exited with code {code} at start: {child.reason()}"
                        )
                    with contextlib.suppress(httpx.HTTPError):
                        if http.get(child.probe).status_code < 500:
                            waiting.remove(child)
                if waiting and time.monotonic() > deadline:
                    names = ", ".join(c.name for c in waiting)
                    raise DemoFailure(f"{names} did not answer within {STARTUP_TIMEOUT:g} s")
                if waiting:
                    time.sleep(0.2)

    def stop_all(self) -> None:
        for child in self.children:
            if child.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in self.children:
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.proc.pid, signal.SIGKILL)
                child.proc.wait(timeout=STOP_TIMEOUT)

    # -- the story ------------------------------------------------------------------------
    def run(self) -> int:
        args = self.args
        print(
            "MCP-Auth demo: a user, an agent with its model, three tools and a resource server\n"
            f"  data directory  {self.data_dir}"
            + ("  (kept: --keep)" if args.keep else "  (removed at the end; --keep keeps it)"),
            flush=True,
        )
        state = seed(
            self.settings,
            tool_urls=self.tool_urls,
            resource_url=self.resource_url,
            active_grant=False,
        )
        self.start_all()
        self.wait_all()
        print("\nservers started (logs in the data directory's logs/):")
        for child in self.children:
            print(f"  {child.name:<12} {child.url:<34} pid {child.proc.pid}")
        with httpx.Client(timeout=10.0) as http:
            agent = IssuerClient(
                self.issuer_url,
                state["agent"]["client_id"],
                load_private_jwk(state["agent"]["private_jwk_file"]),
                http=http,
            )
            grant = self.request_grant(agent, state)
            state = {**state, "grant_id": grant["grant_id"]}
            path = demo_dir(self.settings) / "demo.json"
            saved = {k: v for k, v in state.items() if k != "password"}
            write_private_file(path, json.dumps(saved, indent=2) + "\n")
            if not self.decide(agent, grant, state):
                return 1
            endpoints = {url: ("POST", url) for url in self.tool_urls}
            endpoints[self.resource_url] = ("GET", f"{self.resource_url}/data")
            ok = show_chain(state, self.issuer_url, http=http, servers=Servers(endpoints))
        if args.keep:
            port = self.issuer_url.rsplit(":", 1)[1]
            print(
                f"\ndata directory kept: {self.data_dir} (private keys, the admin token, the "
                "servers' logs; delete it when done)\n"
                f"to see the grant and its audit trail: mcp-auth serve --data-dir "
                f"{self.data_dir} --port {port}, then open {grant['approval_uri']}"
            )
        return 0 if ok else 1

    def request_grant(self, agent: IssuerClient, state: dict[str, Any]) -> dict[str, Any]:
        body = {
            "sub": state["user"],
            "resources": [*self.tool_urls, self.resource_url],
            "scopes": list(DEMO_SCOPES),
            "tools": [t["client_id"] for t in state["tools"]],
            "models": [state["model"]],
            "purpose": DEMO_PURPOSE,
            "expires_in": GRANT_EXPIRES_IN,
        }
        try:
            grant = agent.create_grant(body)
        except (httpx.TransportError, IssuerError) as exc:
            raise DemoFailure(explain(exc, self.issuer_url, agent.client_id)) from None
        print(
            f"\n{agent.client_id} asked for a grant (POST /grants); it stays pending until "
            f"{state['user']} decides\n"
            f"  grant           {grant['grant_id']} ({grant['status']})\n"
            f"  consent page    {grant['approval_uri']}\n"
            f"  sign in as      {state['user']}\n"
            f"  password        {state['password']}",
            flush=True,
        )
        return grant

    def decide(self, agent: IssuerClient, grant: dict[str, Any], state: dict[str, Any]) -> bool:
        """Approve (--yes) or wait for the person; True once the grant is active."""
        user = state["user"]
        try:
            if self.args.yes:
                print(f"--yes: approving it as {user} through the consent page's form", flush=True)
                decide_on_consent_page(grant["approval_uri"], user, state["password"])
                final = agent.get_grant(grant["grant_id"])
            else:
                print(
                    f"waiting for {user} to approve it on the consent page (checking every "
                    f"{POLL_INTERVAL:g} s, at most {self.args.timeout:g} s; Ctrl-C stops the "
                    "demo)...",
                    flush=True,
                )
                final = wait_for_decision(agent, grant["grant_id"], self.args.timeout)
        except (httpx.TransportError, IssuerError) as exc:
            raise DemoFailure(explain(exc, self.issuer_url, agent.client_id)) from None
        except ConsentError as exc:
            raise DemoFailure(str(exc)) from None
        status = final.get("status")
        if self.args.yes and status != "active":
            raise DemoFailure(f"approving on the consent page left the grant {status}")
        if status == "active":
            print(f"{user} approved the grant: it is active", flush=True)
            return True
        if status == "pending":
            print(f"nobody decided within {self.args.timeout:g} s (--timeout); stopping")
        else:
            print(f"the grant is {status}, so there is no chain to show; stopping")
        return False


def _has_request(exc: httpx.TransportError) -> bool:
    try:
        exc.request  # noqa: B018 - raises RuntimeError when the error has no request
    except RuntimeError:
        return False
    return True


def cmd_demo(args: argparse.Namespace) -> int:
    old = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in old:
        signal.signal(sig, _interrupt)
    story: Story | None = None
    code = 1
    try:
        with signals_deferred():  # the temporary directory is made and recorded together
            story = Story(args)
        code = story.run()
    except KeyboardInterrupt:
        code = 130
    except (DemoFailure, DemoError) as exc:
        print(f"mcp-auth demo: {exc}", file=sys.stderr)
        code = 1
    except httpx.TransportError as exc:  # a server died half-way: its log says why
        where = exc.request.url if _has_request(exc) else "a server"
        print(f"mcp-auth demo: {where} stopped answering ({type(exc).__name__})", file=sys.stderr)
        code = 1
    finally:
        for sig in old:
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not stop the clean-up
        if story is not None:
            story.stop_all()
            if not args.keep:
                shutil.rmtree(story.data_dir, ignore_errors=True)
        for sig, handler in old.items():
            signal.signal(sig, handler)
    if code == 130 and story is not None:
        print(
            f"\ninterrupted: stopped {len(story.children)} processes"
            + ("" if args.keep else f", removed {story.data_dir}"),
            file=sys.stderr,
        )
    return code


def add_demo_options(demo: argparse.ArgumentParser) -> None:
    """``mcp-auth demo`` without an ACTION runs the whole story."""
    demo.description = (
        "Without ACTION: seed a temporary data directory, start the issuer, three tools and "
        "a resource server on free loopback ports, ask for a pending grant, wait for you to "
        "approve it on the consent page (or approve it with --yes), then run the chain and "
        "print every step checked. Ctrl-C stops everything it started. With ACTION, the same "
        "step by step: `demo seed`, `serve`, `demo chain`."
    )
    # Added to the examples the parser already has (the step-by-step ones), if any.
    mine = "  mcp-auth demo --yes"
    if demo.epilog:
        demo.epilog = "examples:\n" + mine + "\n" + demo.epilog.partition("\n")[2]
    else:
        demo.epilog = "example:\n" + mine
    demo.add_argument(
        "--yes",
        action="store_true",
        help="approve the grant through the consent page's form instead of waiting for you",
    )
    demo.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="how long to wait for the approval (default: %(default)g s)",
    )
    demo.add_argument(
        "--keep",
        action="store_true",
        help="keep the temporary data directory (private keys, admin token, logs)",
    )
    demo.set_defaults(handler=cmd_demo)
