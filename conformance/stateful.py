"""The Issuer state machine: grant -> issue -> exchange (several hops) -> revoke, with the
attenuation and revocation invariants checked after every step.

The machine keeps its own model of what the issuer must do. For an exchange the model lists
every rule the request breaks; the issuer must refuse with the error of one of them (the
contract fixes an order, but the suite does not fail an issuer for picking another broken
rule's error first), and must succeed when the model says no rule is broken.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from mcp_auth.conformance import hypo
from mcp_auth.conformance.framework import Failed, Skipped, counterexample, oauth_error
from mcp_auth.conformance.issuer import Client, IssuerRun, Token, registry

OUTSIDE = "https://outside-the-grant.example/api"


@dataclass
class GrantModel:
    grant_id: str
    max_depth: int
    resources: list[str]
    scopes: list[str]
    own: bool  # created by the suite (may be revoked)
    revoked: bool = False
    tokens: list[Token] = field(default_factory=list)


def build_machine(run: IssuerRun, log: list[str]) -> type[RuleBasedStateMachine]:
    scopes = run.all_scopes() or ["data:read"]
    resources = run.resources()
    clients: list[Client] = [run.agent, *run.tools]
    issuer_max = run.max_depth

    class IssuerMachine(RuleBasedStateMachine):
        grants = Bundle("grants")
        tokens = Bundle("tokens")

        def __init__(self) -> None:
            super().__init__()
            self.all_tokens: list[Token] = []
            self.grant_models: dict[str, GrantModel] = {}

        def _grant(self, max_depth: int | None, short: bool = False) -> GrantModel:
            if run.admin:
                depth = max_depth or issuer_max
                extra = {"expires_in": 150} if short else {}
                gid = run.create_grant(max_depth=depth, **extra)
                log.append(f"create grant max_depth={depth} short-lived={short}")
                model = GrantModel(gid, depth, resources, scopes, own=True)
            else:
                gid = run.grant()
                stored = run.grant_object(gid).get("max_depth")
                depth = stored if isinstance(stored, int) else issuer_max
                log.append(f"use existing grant {gid} (max_depth {depth})")
                model = GrantModel(gid, depth, resources, scopes, own=False)
            self.grant_models[gid] = model
            return model

        def _first(self) -> GrantModel:
            if not self.grant_models:
                return self._grant(None)
            return next(iter(self.grant_models.values()))

        @initialize(target=grants)
        def first_grant(self) -> GrantModel:
            return self._first()

        @precondition(lambda self: len(self.grant_models) < 3)
        @rule(target=grants, max_depth=st.integers(1, issuer_max), short=st.booleans())
        def create_grant(self, max_depth: int, short: bool) -> Any:
            if not run.admin:
                return multiple()
            return self._grant(max_depth, short)

        @rule(
            target=tokens,
            grant=grants,
            scope=st.none() | st.sets(st.sampled_from(scopes), min_size=1),
        )
        def issue(self, grant: GrantModel, scope: set[str] | None) -> Any:
            scope_s = " ".join(sorted(scope)) if scope else None
            resp, key = run.issue_raw(grant.grant_id, run.tool_resource(0), scope=scope_s)
            log.append(f"issue grant={grant.grant_id[:10]} scope={scope_s} -> {resp.status_code}")
            if grant.revoked:
                self._refused(resp, {"invalid_grant"}, "issuance under a revoked grant")
                return multiple()
            tok = run.accept_token(
                resp, run.agent, key, grant.grant_id, parent=None, what="issuance"
            )
            self._invariants(tok, None, grant, resp)
            if scope and tok.scopes != scope:
                raise Failed(
                    f"issued scope {tok.claims['scope']!r} is not the requested {scope_s!r}",
                    counterexample(resp, token=tok.raw),
                )
            grant.tokens.append(tok)
            self.all_tokens.append(tok)
            return tok

        @initialize(target=tokens)
        def first_token(self) -> Any:
            return self.issue(self._first(), None)

        @rule(
            target=tokens,
            grant=grants,
            hops=st.lists(
                st.tuples(
                    st.sampled_from(resources),
                    st.none() | st.sets(st.sampled_from(scopes), min_size=1),
                ),
                min_size=1,
                max_size=issuer_max,
            ),
        )
        def chain(self, grant: GrantModel, hops: list[tuple[str, set[str] | None]]) -> Any:
            """Issue, then let each audience exchange in turn: deep chains in one step."""
            tok = self.issue(grant, None)
            made = []
            for resource, scope in hops:
                if not isinstance(tok, Token):
                    break
                made.append(tok)
                tok = self.exchange(tok, 0, True, resource, scope)
            if isinstance(tok, Token):
                made.append(tok)
            return multiple(*made)

        @rule(
            target=tokens,
            parent=tokens,
            who=st.integers(0, len(clients) - 1),
            audience_bias=st.booleans(),
            resource=st.sampled_from([*resources, OUTSIDE]),
            scope=st.none() | st.sets(st.sampled_from([*scopes, "extra:scope"]), min_size=1),
        )
        def exchange(
            self,
            parent: Token,
            who: int,
            audience_bias: bool,
            resource: str,
            scope: set[str] | None,
        ) -> Any:
            grant = self._grant_of(parent)
            exchanger = clients[who]
            if audience_bias:  # mostly let the audience exchange, so chains get deep
                exchanger = next(
                    (c for c in run.tools if c.resource == parent.claims["aud"]), exchanger
                )
            scope_s = " ".join(sorted(scope)) if scope else None
            # Table 4-2 in order, first failure wins (MCPA-XCH-014): subject token, audience,
            # tools, depth (all invalid_request with their mcpa_error, RFC 8693 section 2.2.2,
            # MCPA-XCH-015), then resource, then scope.
            broken: list[str] = []
            if parent.lineage_revoked():
                broken.append("invalid_request:subject_token_revoked")
            elif grant.revoked:
                broken.append("invalid_request:grant_revoked")
            if exchanger.resource is None or exchanger.resource != parent.claims["aud"]:
                broken.append("invalid_request:not_audience")
            if parent.depth + 1 > min(grant.max_depth, issuer_max):
                broken.append("invalid_request:depth_exceeded")
            if resource not in grant.resources:
                broken.append("invalid_target")
            if scope is not None and not scope <= parent.scopes:
                broken.append("invalid_scope")
            expected = set(broken[:1])
            resp, key = run.exchange_raw(parent, exchanger, resource, scope=scope_s)
            log.append(
                f"exchange depth {parent.depth} by {exchanger.client_id} for {resource} "
                f"scope={scope_s} -> {resp.status_code} {oauth_error(resp)}"
            )
            if expected:
                self._refused(resp, expected, f"exchange breaking {sorted(expected)}", parent)
                return multiple()
            tok = run.accept_token(
                resp, exchanger, key, grant.grant_id, parent=parent, what="exchange"
            )
            self._invariants(tok, parent, grant, resp)
            grant.tokens.append(tok)
            self.all_tokens.append(tok)
            return tok

        @precondition(lambda self: len(self.all_tokens) >= 3)
        @rule(tok=tokens)
        def revoke_token(self, tok: Token) -> None:
            if tok.lineage_revoked():
                return
            resp = run.revoke_token(tok.holder, tok.raw)
            log.append(f"revoke token depth {tok.depth} -> {resp.status_code}")
            if resp.status_code != 200:
                raise Failed(
                    f"token revocation by the holder: HTTP {resp.status_code}",
                    counterexample(resp, token=tok.raw),
                )
            tok.revoked = True
            for t in self.all_tokens:
                if t.lineage_revoked():
                    self._inactive(t, "token revoked (itself or an ancestor)")

        @precondition(lambda self: len(self.all_tokens) >= 4)
        @rule(grant=grants)
        def revoke_grant(self, grant: GrantModel) -> None:
            if not grant.own or grant.revoked:
                return
            resp = run.revoke_grant(grant.grant_id)
            log.append(f"revoke grant {grant.grant_id[:10]} -> {resp.status_code}")
            if resp.status_code != 204:
                raise Failed(f"DELETE grant: HTTP {resp.status_code}", counterexample(resp))
            grant.revoked = True
            for t in grant.tokens:
                self._inactive(t, "grant revoked")
            if grant.tokens and run.status_bit(grant.tokens[0]) != 1:
                raise Failed("the revoked grant's status bit is not set")

        # -- helpers ------------------------------------------------------------------------
        def _grant_of(self, tok: Token) -> GrantModel:
            return self.grant_models[tok.grant_id]

        def _refused(
            self, resp: Any, errors: set[str], what: str, subject: Token | None = None
        ) -> None:
            got = oauth_error(resp)
            reason = _mcpa_error(resp)
            if reason is not None:
                got = f"{got}:{reason}"
            if resp.status_code == 200 or got not in errors:
                raise Failed(
                    f"{what}: expected {' or '.join(sorted(errors))}, got HTTP "
                    f"{resp.status_code} {got!r}",
                    counterexample(
                        resp,
                        token=subject.raw if subject else None,
                        note="steps:\n" + "\n".join(log[-12:]),
                    ),
                )

        def _inactive(self, tok: Token, why: str) -> None:
            info = run.introspect(tok.holder, tok.raw)
            if info.get("active") is not False:
                raise Failed(
                    f"{why}, yet a derived token (depth {tok.depth}) introspects as "
                    "active; steps: " + " | ".join(log[-12:])
                )

        def _invariants(
            self, tok: Token, parent: Token | None, grant: GrantModel, resp: Any
        ) -> None:
            c = tok.claims
            problems = []
            if not tok.scopes <= set(grant.scopes):
                problems.append("scope wider than the grant")
            if parent is not None:
                if not tok.scopes <= parent.scopes:
                    problems.append("scope wider than the subject token's")
                if c["exp"] > parent.claims["exp"]:
                    problems.append("exp later than the subject token's")
                if tok.depth != parent.depth + 1:
                    problems.append(f"depth {tok.depth}, not parent depth + 1")
                if c.get("status") != parent.claims.get("status"):
                    problems.append("status not copied")
            elif tok.depth != 1:
                problems.append("issued token depth is not 1 (the agent's hop)")
            if tok.depth > min(grant.max_depth, issuer_max):
                problems.append(f"depth {tok.depth} beyond the limit")
            if c.get("cnf", {}).get("jkt") != tok.dpop.thumbprint():
                problems.append("cnf.jkt is not the requester's DPoP key")
            if c.get("client_id") != tok.holder.client_id:
                problems.append("client_id is not the holder")
            if problems:
                raise Failed(
                    "; ".join(problems) + " (steps: " + " | ".join(log[-12:]) + ")",
                    counterexample(resp, token=tok.raw),
                )

    return IssuerMachine


@registry.check(
    "stateful_attenuation",
    "Stateful: sequences of grants, issuance, multi-hop exchange and revocation never widen "
    "scope, extend expiry or exceed depth; only the audience exchanges; revocation cascades",
    [
        "MCPA-XCH-003",
        "MCPA-XCH-005",
        "MCPA-XCH-006",
        "MCPA-XCH-007",
        "MCPA-XCH-008",
        "MCPA-XCH-014",
        "MCPA-REV-001",
        "MCPA-REV-004",
        "MCPA-REV-005",
        "MCPA-ISS-006",
    ],
)
def _stateful(run: IssuerRun) -> None:
    if not run.tools:
        raise Skipped("no tools in the target config")
    log: list[str] = []
    machine = seed(run.seed)(build_machine(run, log))
    hypo.run(
        lambda: run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=run.profile.machine_examples,
                stateful_step_count=run.profile.machine_steps,
                database=None,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=False,
                verbosity=Verbosity.quiet,
                phases=[Phase.generate, Phase.shrink],
                report_multiple_bugs=False,
                print_blob=False,
            ),
        ),
        run.profile.shrink_seconds,
    )


def _mcpa_error(resp: Any) -> str | None:
    """The ``mcpa_error`` member of an error body, if any (MCPA-XCH-015)."""
    try:
        body = resp.json()
    except ValueError:
        return None
    value = body.get("mcpa_error") if isinstance(body, dict) else None
    return value if isinstance(value, str) else None
