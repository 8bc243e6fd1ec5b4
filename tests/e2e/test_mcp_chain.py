"""End to end: the MCP SDK's own client and server in the MCP-Auth chain, as real processes.

User -> agent runtime -> model -> tool (MCP server) -> resource, on 127.0.0.1:

* ``mcp-auth demo seed`` then ``mcp-auth serve`` (the reference issuer),
* ``mcp-auth resource-server`` (the downstream API, resource ``demo-resource``),
* ``mcp-auth mcp-example`` (the tool ``demo-tool-1``: an SDK ``MCPServer`` behind MCP-Auth),
* the SDK's ``Client`` over streamable HTTP as the agent ``demo-agent`` with model
  ``demo-model``, in this process and as ``mcp-auth mcp-demo-client``.

These are the commands of spec/guides/protect-an-mcp-server.md, on free ports: the guide's
``demo seed --issuer-url URL --tool-url URL --resource-url URL`` places the issuer, the tool
and the resource server where the test can start them, so it never depends on a fixed port.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.shared.exceptions import MCPError

from mcp_auth.reference.issuer.client import IssuerClient, IssuerError, load_private_jwk
from mcp_auth.reference.mcp.adapter import chain_of
from mcp_auth.reference.mcp.demo_client import connect, obtain_token, tool_payload
from mcp_auth.reference.mcp.dpop_auth import DPoPAuth, DPoPKey
from tests.loopback import free_port as _free_port
from tests.loopback import mcp_auth_command as _command
from tests.loopback import stop_group

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

HOST = "127.0.0.1"
STATUS_MAX_AGE = 2  # seconds the example server may use a fetched status list

AGENT_CHAIN = [{"actor_type": "agent", "sub": "demo-agent", "mcpa_model": "demo-model"}]
TOOL_CHAIN = [*AGENT_CHAIN, {"actor_type": "tool", "sub": "demo-tool-1"}]


def _run(command: str) -> str:
    """Run ``mcp-auth <command>`` (a shell-quoted string, as in the guide) to completion."""
    done = subprocess.run(
        [*_command(), *shlex.split(command)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"mcp-auth {command} failed:\n{done.stdout}{done.stderr}"
    return done.stdout


@dataclass
class Server:
    name: str
    command: str
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [*_command(), *shlex.split(self.command)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_http(self, url: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name} exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(url, timeout=2.0).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        pytest.fail(f"{self.name} did not answer {url} within {timeout}s:\n{self.output()}")

    def stop(self) -> None:
        if self.proc is not None:
            stop_group(self.proc)


@dataclass
class Stack:
    data_dir: Path
    issuer: str
    mcp_url: str
    resource_url: str
    grant_id: str
    admin_token: str
    state: dict[str, Any]
    servers: list[Server] = field(default_factory=list)

    @property
    def quoted_dir(self) -> str:
        return shlex.quote(str(self.data_dir))

    def agent_jwk(self) -> dict[str, Any]:
        return load_private_jwk(self.state["agent"]["private_jwk_file"])

    def tool_client(self, http: httpx.Client) -> IssuerClient:
        tool = next(t for t in self.state["tools"] if t["client_id"] == "demo-tool-1")
        jwk = load_private_jwk(tool["private_jwk_file"])
        return IssuerClient(self.issuer, "demo-tool-1", jwk, http=http)

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    def events(self) -> list[dict[str, Any]]:
        response = httpx.get(
            f"{self.issuer}/grants/{self.grant_id}/events", headers=self.admin(), timeout=10
        )
        assert response.status_code == 200, response.text
        events: list[dict[str, Any]] = response.json()["events"]
        return events

    def logs(self) -> str:
        return "\n".join(f"--- {s.name}\n{s.output()}" for s in self.servers)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("mcp-chain")
    data_dir = base / "data"
    issuer_port, mcp_port, resource_port = _free_port(), _free_port(), _free_port()
    issuer = f"http://{HOST}:{issuer_port}"
    mcp_url = f"http://{HOST}:{mcp_port}/mcp"
    resource_url = f"http://{HOST}:{resource_port}"
    d = shlex.quote(str(data_dir))

    # mcp-auth demo seed --data-dir D --issuer-url URL --tool-url URL --resource-url URL
    _run(
        f"demo seed --data-dir {d} --issuer-url {issuer} --tool-url {mcp_url} "
        f"--resource-url {resource_url}"
    )
    state = json.loads((data_dir / "demo" / "demo.json").read_text(encoding="utf-8"))
    assert [t["resource"] for t in state["tools"]] == [mcp_url]
    assert state["resource"]["resource"] == resource_url
    admin_token = (data_dir / "admin-token").read_text(encoding="utf-8").strip()

    servers = [
        Server("issuer", f"serve --data-dir {d} --port {issuer_port}", base / "issuer.log"),
        Server(
            "resource-server",
            f"resource-server --issuer {issuer} --resource {resource_url} --scope data:read "
            f"--port {resource_port}",
            base / "resource.log",
        ),
        Server(
            "mcp-example",
            f"mcp-example --issuer {issuer} --data-dir {d} --port {mcp_port} "
            f"--downstream {resource_url} --status-max-age {STATUS_MAX_AGE}",
            base / "mcp.log",
        ),
    ]
    result = Stack(
        data_dir, issuer, mcp_url, resource_url, state["grant_id"], admin_token, state, servers
    )
    try:
        for server in servers:
            server.start()
        servers[0].wait_http(f"{issuer}/.well-known/oauth-authorization-server")
        servers[1].wait_http(f"{resource_url}/.well-known/oauth-protected-resource")
        servers[2].wait_http(f"http://{HOST}:{mcp_port}/.well-known/oauth-protected-resource/mcp")
        yield result
    finally:
        for server in reversed(servers):
            server.stop()


async def _issue(stack: Stack, resource: str, scope: str | None = None) -> tuple[str, DPoPKey]:
    """As demo-agent with demo-model: a delegation token under the grant, and its DPoP key."""
    key = DPoPKey.generate()
    token = await obtain_token(
        issuer=stack.issuer,
        client_id="demo-agent",
        private_jwk=stack.agent_jwk(),
        grant_id=stack.grant_id,
        resource=resource,
        model="demo-model",
        dpop_key=key,
        scope=scope,
    )
    return token.access_token, key


async def _agent_session(
    stack: Stack, calls: list[tuple[str, dict[str, Any]]]
) -> tuple[list[str], list[Any]]:
    token, key = await _issue(stack, stack.mcp_url)
    client, http = connect(stack.mcp_url, DPoPAuth(token, key))
    results: list[Any] = []
    async with http, client:
        tools = [t.name for t in (await client.list_tools()).tools]
        for name, arguments in calls:
            results.append(await client.call_tool(name, arguments))
    return tools, results


def test_resource_metadata_names_the_issuer(stack: Stack) -> None:
    origin = stack.mcp_url.removesuffix("/mcp")
    response = httpx.get(f"{origin}/.well-known/oauth-protected-resource/mcp", timeout=10)
    assert response.status_code == 200
    metadata = response.json()
    assert metadata["resource"] == stack.mcp_url
    assert metadata["authorization_servers"] == [stack.issuer]
    assert metadata["dpop_bound_access_tokens_required"] is True
    assert metadata["mcpa_version"] == "draft-01"


def test_missing_token_is_challenged(stack: Stack) -> None:
    response = httpx.post(
        stack.mcp_url,
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"Accept": "application/json, text/event-stream"},
        timeout=10,
    )
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("DPoP ")
    assert "error=" not in challenge
    metadata_url = stack.mcp_url.removesuffix("/mcp") + "/.well-known/oauth-protected-resource/mcp"
    assert f'resource_metadata="{metadata_url}"' in challenge


def _agent_token(stack: Stack, resource: str, scope: str | None = None) -> tuple[str, DPoPKey]:
    return asyncio.run(_issue(stack, resource, scope))


def _post(stack: Stack, authorization: str, proof: str | None = None) -> httpx.Response:
    headers = {"Authorization": authorization, "Accept": "application/json, text/event-stream"}
    if proof is not None:
        headers["DPoP"] = proof
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    return httpx.post(stack.mcp_url, json=body, headers=headers, timeout=10)


def _error_of(response: httpx.Response) -> str | None:
    challenge = str(response.headers.get("www-authenticate", ""))
    assert challenge.startswith("DPoP "), challenge
    for part in challenge[5:].split(", "):
        name, _, value = part.partition("=")
        if name == "error":
            return value.strip('"')
    return None


def test_bad_credentials_are_refused_in_the_mcp_auth_forms(stack: Stack) -> None:
    token, key = _agent_token(stack, stack.mcp_url)

    # A DPoP-bound token presented as a bearer token, or without its proof.
    assert _post(stack, f"Bearer {token}").status_code == 401
    assert _error_of(_post(stack, f"Bearer {token}")) == "invalid_token"
    no_proof = _post(stack, f"DPoP {token}")
    assert (no_proof.status_code, _error_of(no_proof)) == (401, "invalid_dpop_proof")

    # A proof by another key than the one the token is bound to (cnf.jkt).
    other = DPoPKey.generate().proof("POST", stack.mcp_url, access_token=token)
    stolen = _post(stack, f"DPoP {token}", other)
    assert (stolen.status_code, _error_of(stolen)) == (401, "invalid_token")

    # A good proof is accepted once; replaying it is refused.
    proof = key.proof("POST", stack.mcp_url, access_token=token)
    assert _post(stack, f"DPoP {token}", proof).status_code not in (401, 403)
    replayed = _post(stack, f"DPoP {token}", proof)
    assert (replayed.status_code, _error_of(replayed)) == (401, "invalid_dpop_proof")

    # A token for another audience (the downstream API) is not accepted here.
    elsewhere, elsewhere_key = _agent_token(stack, stack.resource_url)
    proof = elsewhere_key.proof("POST", stack.mcp_url, access_token=elsewhere)
    wrong_aud = _post(stack, f"DPoP {elsewhere}", proof)
    assert (wrong_aud.status_code, _error_of(wrong_aud)) == (401, "invalid_token")

    # A token without the scope the endpoint needs: 403 naming the scope.
    narrow, narrow_key = _agent_token(stack, stack.mcp_url, scope="files:read")
    proof = narrow_key.proof("POST", stack.mcp_url, access_token=narrow)
    forbidden = _post(stack, f"DPoP {narrow}", proof)
    assert (forbidden.status_code, _error_of(forbidden)) == (403, "insufficient_scope")
    assert 'scope="data:read"' in forbidden.headers["www-authenticate"]
    assert forbidden.json()["error"] == "insufficient_scope"


def test_demo_client_command(stack: Stack) -> None:
    # mcp-auth mcp-demo-client --issuer URL --data-dir D --mcp-url URL
    output = json.loads(
        _run(
            f"mcp-demo-client --issuer {stack.issuer} --data-dir {stack.quoted_dir} "
            f"--mcp-url {stack.mcp_url} --json"
        )
    )
    assert "get_data" in output["tools"]
    assert output["token_chain"] == AGENT_CHAIN
    assert output["is_error"] is False
    assert output["result"]["chain"] == TOOL_CHAIN


def test_chain_audit_and_revocation(stack: Stack) -> None:
    tools, results = asyncio.run(_agent_session(stack, [("get_data", {"item": "report"})]))
    assert {"get_data", "whoami"} <= set(tools)
    result = results[0]
    assert not result.is_error, f"{result.content}\n{stack.logs()}"
    payload = tool_payload(result)
    # The tool saw the agent's token (agent -> model) ...
    assert payload["caller"] == {"sub": "alice", "grant_id": stack.grant_id}
    assert payload["received_chain"] == AGENT_CHAIN
    # ... and reached the downstream API with a token of its own (agent -> model -> tool).
    assert payload["downstream"]["status"] == 200, payload
    # The downstream API verified that token itself: same user, grant and chain.
    downstream_principal = payload["downstream"]["body"]["principal"]
    assert downstream_principal["sub"] == "alice"
    assert downstream_principal["grant_id"] == stack.grant_id
    assert downstream_principal["client_id"] == "demo-tool-1"
    assert downstream_principal["chain"] == TOOL_CHAIN
    assert payload["chain"] == TOOL_CHAIN
    assert payload["downstream_scope"] == "data:read"

    # The audit log holds the whole chain: issuance to the agent, exchange by the tool.
    events = stack.events()
    issued = [e for e in events if e["type"] == "token.issued"]
    exchanged = [e for e in events if e["type"] == "token.exchanged"]
    assert issued and exchanged
    assert chain_of(issued[-1]["act"]) == AGENT_CHAIN
    assert chain_of(exchanged[-1]["act"]) == TOOL_CHAIN
    assert exchanged[-1]["resource"] == stack.resource_url
    assert exchanged[-1]["parent_jti"] == issued[-1]["token_jti"]
    _run(f"audit verify --data-dir {stack.quoted_dir}")

    # A session that works now ...
    async def revoke_between_calls() -> tuple[Any, Any, int | None, str | None, str]:
        token, key = await _issue(stack, stack.mcp_url)
        auth = DPoPAuth(token, key)
        client, http = connect(stack.mcp_url, auth)
        async with http, client:
            before = await client.call_tool("whoami", {})
            # ... the user revokes the grant (as the consent page does) ...
            async with httpx.AsyncClient(timeout=10) as issuer:
                revoked = await issuer.delete(
                    f"{stack.issuer}/grants/{stack.grant_id}", headers=stack.admin()
                )
            assert revoked.status_code == 204
            # ... and once the server's status list is refreshed, the next call is refused.
            # Times are integer seconds (the list's iat, the verifier's now): a list fetched
            # just before the revocation decides until up to STATUS_MAX_AGE + 1 s later.
            await asyncio.sleep(STATUS_MAX_AGE + 1.5)
            try:
                after: Any = await client.call_tool("get_data", {"item": "report"})
            except MCPError as exc:  # the transport's stand-in for the HTTP 401
                after = exc
            status, challenge = auth.last_status, auth.last_challenge
        return before, after, status, challenge, token

    before, after, status, challenge, agent_token = asyncio.run(revoke_between_calls())
    assert not before.is_error
    assert tool_payload(before)["chain"] == AGENT_CHAIN  # read via the SDK's get_access_token()
    assert isinstance(after, MCPError), after
    assert status == 401, stack.logs()
    assert challenge is not None
    assert challenge.startswith('DPoP error="invalid_token"')

    # The tool can no longer exchange the agent's token either.
    with httpx.Client(timeout=10) as http, pytest.raises(IssuerError) as refused:
        stack.tool_client(http).exchange(agent_token, resource=stack.resource_url)
    assert refused.value.error == "invalid_request"  # RFC 8693 section 2.2.2
    assert refused.value.mcpa_error == "grant_revoked"
    events = stack.events()
    assert "grant.revoked" in [e["type"] for e in events]
    assert events[-1]["type"] == "token.refused"
    assert events[-1]["client_id"] == "demo-tool-1"
    assert events[-1]["error"] == "invalid_request"
    _run(f"audit verify --data-dir {stack.quoted_dir}")
