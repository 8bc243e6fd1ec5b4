"""The demo chain as numbered, checked steps (``mcp-auth demo chain`` and ``mcp-auth demo``).

With the seeded demo (``demo.json``: the agent, one to three tools, the resource server, the
model and an active grant), against a running issuer, in order:

1. issuance: the agent, naming the model, obtains a token for the first tool
   (chain: agent, model; depth 2);
2. one exchange per tool, each adding that tool to the chain; the last one, to the resource
   server, narrows the scope to ``files:read``;
3. introspection by the resource server: active, the same chain, the narrowed scope;
4. revocation: the agent revokes its first token (RFC 7009);
5. introspection after revocation: inactive, since the last token descends from the
   revoked one (EXPECTED);
6. an exchange of the revoked token: refused as specified (``revoked_subject_refusal``,
   EXPECTED).

With three tools that is 8 steps. When the tools and the resource server run
(``mcp-auth demo``, ``Servers``), each token is also presented, with a DPoP proof of its
holder, to the server it is meant for, which must accept it.

The chain is read from each token's ``act`` claims (decoded for display only, never trusted):
a ``model`` hop or an ``mcpa_model`` member of a hop names the model, so the printer fits
either way of carrying it. A step that does not behave as specified is marked FAILED and
the run ends with the list of them; unreachable servers raise ``httpx.TransportError``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from ..jose import JoseError, b64url_decode
from . import chain
from .client import IssuerClient, IssuerError, TokenResponse, load_private_jwk

FIRST_SCOPE = "files:read files:write"
FINAL_SCOPE = "files:read"
MCP_INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "mcp-auth-demo", "version": "1"},
    },
}
MAX_HOPS = 64


@dataclass
class Step:
    number: int
    title: str
    ok: bool = True
    lines: list[str] = field(default_factory=list)
    expected: str | None = None  # why a refusal here is the specified behaviour

    def fail(self, why: str) -> None:
        self.ok = False
        self.lines.append(f"NOT AS SPECIFIED: {why}")


@dataclass(frozen=True)
class Servers:
    """The running servers: resource identifier -> (method, URL) at which it takes tokens."""

    endpoints: dict[str, tuple[str, str]]


def token_claims(token: str) -> dict[str, Any]:
    """The payload of a token just received from the issuer, *unverified*: for display only."""
    try:
        claims = json.loads(b64url_decode(token.split(".")[1]))
    except (JoseError, ValueError, IndexError):
        return {}
    return claims if isinstance(claims, dict) else {}


def act_hops(act: object) -> list[Mapping[str, Any]]:
    """The hop objects of an ``act`` claim, first actor (innermost) first."""
    return chain.display_hops(act, MAX_HOPS)


def actors_and_models(act: object) -> tuple[list[str], list[str]]:
    """(actor names, model ids): a model is a ``model`` hop or an ``mcpa_model`` member."""
    actors: list[str] = []
    models: list[str] = []
    for hop in act_hops(act):
        if hop.get("actor_type") == "model":
            models.append(str(hop.get("sub")))
            continue
        actors.append(str(hop.get("sub")))
        if isinstance(hop.get("mcpa_model"), str):
            models.append(str(hop["mcpa_model"]))
    return actors, models


def hop_names(act: object) -> list[str]:
    """``["demo-agent (model demo-model)", "demo-tool-1", ...]``, first actor first."""
    return chain.labels(act, limit=MAX_HOPS)


def present(
    http: httpx.Client, holder: IssuerClient, token: str, method: str, url: str
) -> tuple[int, str]:
    """Present ``token`` with its holder's DPoP proof; (HTTP status, challenge error or '')."""
    headers = {
        "Authorization": f"DPoP {token}",
        "DPoP": holder.dpop_proof(method, url, access_token=token),
    }
    body = None
    if method == "POST":  # an MCP server: start a session (streamable HTTP)
        headers["Accept"] = "application/json, text/event-stream"
        body = MCP_INITIALIZE
    # Only the status matters; a stream's body is not awaited.
    with http.stream(method, url, headers=headers, json=body) as response:
        challenge = response.headers.get("www-authenticate", "")
        return response.status_code, challenge


class ChainRun:
    """The steps of one run against ``issuer_url``, yielded one by one as they finish."""

    def __init__(
        self,
        state: Mapping[str, Any],
        issuer_url: str,
        *,
        http: httpx.Client | None = None,
        servers: Servers | None = None,
    ) -> None:
        self.state = state
        self.http = http or httpx.Client(timeout=10.0)
        self.servers = servers
        self.grant_id: str = state["grant_id"]
        self.model: str = state["model"]

        def client(entry: Mapping[str, Any]) -> IssuerClient:
            jwk = load_private_jwk(entry["private_jwk_file"])
            return IssuerClient(issuer_url, entry["client_id"], jwk, http=self.http)

        self.agent = client(state["agent"])
        self.tools = [client(t) for t in state["tools"]]
        self.resource = client(state["resource"])
        # The audiences, in order: each tool, then the resource server.
        self.targets = [t["resource"] for t in state["tools"]] + [state["resource"]["resource"]]
        self.names = {t["resource"]: t["client_id"] for t in state["tools"]}
        self.names[state["resource"]["resource"]] = "resource"
        self.total = len(self.tools) + 5
        self.max_depth: int | None = None  # the grant's, read when the run starts

    def _token_step(
        self,
        step: Step,
        token: TokenResponse,
        holder: IssuerClient,
        *,
        actors: list[str],
        target: str,
        scope: str,
        previous_scope: str | None,
    ) -> Step:
        claims = token_claims(token.access_token)
        act = claims.get("act")
        names = hop_names(act)
        step.lines.append(" → ".join([*names, self.names.get(target, target)]))
        scope_note = f"scope {token.scope}"
        if previous_scope is not None and token.scope != previous_scope:
            scope_note = f"scope narrowed here: {previous_scope} → {token.scope}"
        limit = f" of at most {self.max_depth}" if self.max_depth else ""
        step.lines.append(
            f"depth {len(act_hops(act))}{limit} · {scope_note} · expires in {token.expires_in} s"
        )
        found_actors, models = actors_and_models(act)
        if found_actors != actors or models != [self.model]:
            step.fail(f"the chain should be {' → '.join(actors)} with model {self.model}")
        if claims.get("aud") != target:
            step.fail(f"the token's audience should be {target}, not {claims.get('aud')!r}")
        if token.scope != scope:
            step.fail(f"the scope should be {scope!r}")
        endpoint = None if self.servers is None else self.servers.endpoints.get(target)
        if endpoint is not None:
            method, url = endpoint
            status, challenge = present(self.http, holder, token.access_token, method, url)
            who = self.names.get(target, target)
            if who == "resource":
                who = f"the resource server ({self.resource.client_id})"
            if status == 200:
                step.lines.append(f"{who} accepted it ({method} {url}: HTTP {status})")
            else:
                step.fail(f"{who} answered HTTP {status} {challenge}".rstrip())
        return step

    def steps(self) -> Iterator[Step]:
        number = 1
        step = Step(number, f"issuance to {self.agent.client_id}")
        try:
            self.max_depth = self.agent.get_grant(self.grant_id).get("max_depth")
            token = self.agent.issue(self.grant_id, self.targets[0], self.model, FIRST_SCOPE)
        except IssuerError as exc:
            step.fail(f"the issuer refused: {exc}")
            yield step
            return
        first = token
        actors = [self.agent.client_id]
        yield self._token_step(
            step,
            token,
            self.agent,
            actors=actors,
            target=self.targets[0],
            scope=FIRST_SCOPE,
            previous_scope=None,
        )
        if not step.ok:
            return
        for tool, target in zip(self.tools, self.targets[1:], strict=True):
            number += 1
            step = Step(number, f"exchange by {tool.client_id}")
            # Each exchange keeps the scope (none asked for), except the last, which narrows it.
            last = target == self.targets[-1]
            scope = FINAL_SCOPE if last else FIRST_SCOPE
            try:
                exchanged = tool.exchange(
                    token.access_token, target, scope=FINAL_SCOPE if last else None
                )
            except IssuerError as exc:
                step.fail(f"the issuer refused: {exc}")
                yield step
                return
            actors = [*actors, tool.client_id]
            yield self._token_step(
                step,
                exchanged,
                tool,
                actors=actors,
                target=target,
                scope=scope,
                previous_scope=token.scope,
            )
            if not step.ok:
                return
            token = exchanged
        yield from self._revocation_steps(number, first, token)

    def _revocation_steps(
        self, number: int, first: TokenResponse, last: TokenResponse
    ) -> Iterator[Step]:
        run: list[tuple[str, Callable[[Step], None]]] = [
            ("introspection by the resource server", lambda s: self._introspect(s, last, True)),
            (f"revocation by {self.agent.client_id}", lambda s: self._revoke(s, first)),
            ("introspection after revocation", lambda s: self._introspect(s, last, False)),
            ("exchange after revocation", lambda s: self._refused_exchange(s, first)),
        ]
        for offset, (title, check) in enumerate(run, start=1):
            step = Step(number + offset, title)
            try:
                check(step)
            except IssuerError as exc:
                step.fail(f"the issuer refused: {exc}")
            yield step
            if not step.ok:
                return

    def _introspect(self, step: Step, token: TokenResponse, active: bool) -> None:
        info = self.resource.introspect(token.access_token)
        if active:
            step.lines.append(
                f"active · scope {info.get('scope')} · held by {info.get('client_id')} · "
                f"user {info.get('sub')}"
            )
            step.lines.append(f"chain {' → '.join(hop_names(info.get('act')))}")
            if info.get("active") is not True:
                step.fail("the token should be active")
            elif info.get("act") != token_claims(token.access_token).get("act"):
                step.fail("introspection should show the token's own chain")
            elif info.get("scope") != FINAL_SCOPE:
                step.fail(f"the scope should be {FINAL_SCOPE!r}")
            return
        step.lines.append(f"{self.resource.client_id} asked again: active = {info.get('active')}")
        if info.get("active") is False:
            step.expected = "inactive, because the last token was exchanged from the revoked one"
        else:
            step.fail("a token exchanged from a revoked token must be inactive")

    def _revoke(self, step: Step, first: TokenResponse) -> None:
        self.agent.revoke(first.access_token)
        step.lines.append(
            f"{self.agent.client_id} revoked the first token of the chain (RFC 7009); "
            "every token exchanged from it goes with it"
        )

    def _refused_exchange(self, step: Step, first: TokenResponse) -> None:
        tool = self.tools[0]
        step.lines.append(f"{tool.client_id} tries to exchange the revoked first token again")
        try:
            tool.exchange(first.access_token, self.targets[1])
        except IssuerError as exc:
            reason = getattr(exc, "mcpa_error", None)
            step.lines.append(
                f"refused: {exc.status} {exc.error}" + (f" ({reason})" if reason else "")
            )
            if revoked_subject_refusal(exc):
                step.expected = "refused, because a revoked token cannot be exchanged"
            else:
                step.fail("that is not the refusal specified for a revoked subject token")
            return
        step.fail("the issuer accepted an exchange of a revoked token")


def revoked_subject_refusal(exc: IssuerError) -> bool:
    """Is this the specified refusal of an exchange whose subject token is revoked?

    ``invalid_grant`` (draft-00); or, from a client that reads MCP-Auth's ``mcpa_error``
    reason (draft-01, spec Table 4-4), ``invalid_request`` with ``subject_token_revoked``.
    """
    reason = getattr(exc, "mcpa_error", None)
    if reason is not None:
        return exc.error == "invalid_request" and reason == "subject_token_revoked"
    return exc.error == "invalid_grant"


def print_step(step: Step) -> None:
    print(f"\n{step.number}. {step.title}  [{'ok' if step.ok else 'FAILED'}]", flush=True)
    for line in step.lines:
        print(f"   {line}")
    if step.expected:
        print(f"   EXPECTED: {step.expected}")


def verdict(steps: list[Step], total: int) -> tuple[bool, str]:
    """(all as specified, the closing line)."""
    failed = [s for s in steps if not s.ok]
    if not failed and len(steps) == total:
        return True, f"all {total} steps behaved as specified"
    names = ", ".join(f"{s.number} ({s.title})" for s in failed) or "none"
    line = f"NOT AS SPECIFIED: step {names}"
    if len(steps) + 1 == total:
        line += f"; step {total} did not run"
    elif len(steps) < total:
        line += f"; steps {len(steps) + 1} to {total} did not run"
    return False, line


def show_chain(
    state: Mapping[str, Any],
    issuer_url: str,
    *,
    http: httpx.Client | None = None,
    servers: Servers | None = None,
) -> bool:
    """Run and print every step and the closing line; True when all behaved as specified."""
    run = ChainRun(state, issuer_url, http=http, servers=servers)
    done: list[Step] = []
    for step in run.steps():
        print_step(step)
        done.append(step)
    ok, line = verdict(done, run.total)
    print(f"\n{line}", flush=True)
    return ok
