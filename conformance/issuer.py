"""Issuer class: plain checks of each endpoint and rule, then a stateful Hypothesis machine.

The suite acts as the agent and the tools of the target config (their client keys sign the
``private_key_jwt`` assertions; fresh DPoP keys are generated per token) and, in ``admin``
grant mode, creates its own active grants with the admin token so that it can revoke them
without touching anybody else's.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from mcp_auth import SPEC_VERSION, schemas
from mcp_auth.conformance import jose
from mcp_auth.conformance.config import IssuerConfig
from mcp_auth.conformance.framework import (
    Failed,
    Registry,
    Skipped,
    counterexample,
    expect_error,
    oauth_error,
)
from mcp_auth.conformance.profiles import Profile
from mcp_auth.conformance.suite_issuer import decode_status_list, status_bit

GT_GRANT = "urn:ietf:params:oauth:grant-type:mcpa-grant"
GT_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
TT_ACCESS = "urn:ietf:params:oauth:token-type:access_token"
CA_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
METADATA_FIELDS = (
    "issuer",
    "token_endpoint",
    "jwks_uri",
    "revocation_endpoint",
    "introspection_endpoint",
    "grant_types_supported",
    "response_types_supported",
    "token_endpoint_auth_methods_supported",
    "token_endpoint_auth_signing_alg_values_supported",
    "revocation_endpoint_auth_methods_supported",
    "introspection_endpoint_auth_methods_supported",
    "dpop_signing_alg_values_supported",
    "mcpa_version",
    "mcpa_grants_endpoint",
    "mcpa_consent_endpoint",
    "mcpa_max_chain_depth",
    "mcpa_max_token_lifetime",
    "mcpa_status_list_max_age",
    "mcpa_token_signing_alg_values_supported",
    "mcpa_actor_types_supported",
)


@dataclass
class Client:
    client_id: str
    key: jose.Key
    resource: str | None = None


@dataclass
class Token:
    """A token the suite obtained, with what the suite knows about its lineage."""

    raw: str
    header: dict[str, Any]
    claims: dict[str, Any]
    holder: Client
    dpop: jose.Key
    grant_id: str
    parent: Token | None = None
    revoked: bool = False  # revoked itself (RFC 7009)

    @property
    def depth(self) -> int:
        n, node = 0, self.claims.get("act")
        while isinstance(node, dict):
            n, node = n + 1, node.get("act")
        return n

    @property
    def scopes(self) -> set[str]:
        return set(str(self.claims.get("scope", "")).split())

    def lineage_revoked(self) -> bool:
        node: Token | None = self
        while node is not None:
            if node.revoked:
                return True
            node = node.parent
        return False


@dataclass
class IssuerRun:
    config: IssuerConfig
    client: httpx.Client
    profile: Profile
    seed: int = 0
    agent: Client = field(init=False)
    tools: list[Client] = field(init=False)
    _metadata: dict[str, Any] | None = None
    _jwks: dict[str, Any] | None = None
    _grant: str | None = None
    revoked_grants: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        c = self.config
        self.agent = Client(c.agent.client_id, c.agent.key)
        self.tools = [Client(t.client_id, t.key, t.resource) for t in c.tools]

    @property
    def url(self) -> str:
        return self.config.url

    @property
    def admin(self) -> bool:
        return self.config.grants.mode == "admin"

    # -- discovery ------------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            resp = self.client.get(self.url.rstrip("/") + "/.well-known/oauth-authorization-server")
            if resp.status_code != 200:
                raise Failed(f"metadata: HTTP {resp.status_code}", counterexample(resp))
            md = resp.json()
            if not isinstance(md, dict):
                raise Failed("metadata is not a JSON object", counterexample(resp))
            self._metadata = md
        return self._metadata

    def endpoint(self, name: str) -> str:
        md = self.metadata()
        value = md.get(name)
        if not isinstance(value, str):
            raise Skipped(f"metadata has no {name}")
        return value

    def jwks(self) -> dict[str, Any]:
        if self._jwks is None:
            resp = self.client.get(self.endpoint("jwks_uri"))
            self._jwks = resp.json()
        return self._jwks

    @property
    def max_depth(self) -> int:
        value = self.metadata().get("mcpa_max_chain_depth", 5)
        return int(value) if isinstance(value, int) else 5

    def resources(self) -> list[str]:
        out = [t.resource for t in self.tools if t.resource]
        out += [r for r in self.config.grants.resources if r not in out]
        return out

    def final_resource(self) -> str:
        tool_res = {t.resource for t in self.tools}
        for r in self.config.grants.resources:
            if r not in tool_res:
                return r
        return self.resources()[-1]

    # -- requests -------------------------------------------------------------------------
    def auth_params(self, who: Client, *, assertion: str | None = None) -> list[tuple[str, str]]:
        return [
            ("client_assertion_type", CA_TYPE),
            (
                "client_assertion",
                assertion
                or jose.client_assertion(who.key, who.client_id, self.metadata()["issuer"]),
            ),
        ]

    def post_form(
        self, endpoint: str, params: list[tuple[str, str]], headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """POST a form; parameters keep their order and may repeat (to test refusals)."""
        return self.client.post(
            self.endpoint(endpoint),
            content=urlencode(params).encode("ascii"),
            headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
        )

    def token_request(
        self,
        who: Client,
        params: list[tuple[str, str]],
        dpop: jose.Key | None,
        *,
        proof: str | None = None,
        auth: bool = True,
    ) -> httpx.Response:
        headers: dict[str, str] = {}
        if proof is not None:
            headers["DPoP"] = proof
        elif dpop is not None:
            headers["DPoP"] = jose.dpop_proof(dpop, "POST", self.endpoint("token_endpoint"))
        full = params + (self.auth_params(who) if auth else [])
        return self.post_form("token_endpoint", full, headers)

    def issue_raw(
        self,
        grant_id: str,
        resource: str,
        *,
        scope: str | None = None,
        model: str | None = None,
        who: Client | None = None,
        dpop: jose.Key | None = None,
    ) -> tuple[httpx.Response, jose.Key]:
        key = dpop or jose.Key.generate("ES256")
        params = [
            ("grant_type", GT_GRANT),
            ("grant_id", grant_id),
            ("resource", resource),
            ("actor_model", model or self.config.agent.model),
        ]
        if scope is not None:
            params.append(("scope", scope))
        return self.token_request(who or self.agent, params, key), key

    def issue(
        self, grant_id: str, resource: str | None = None, *, scope: str | None = None
    ) -> Token:
        resource = resource or self.tool_resource(0)
        resp, key = self.issue_raw(grant_id, resource, scope=scope)
        return self.accept_token(resp, self.agent, key, grant_id, parent=None, what="issuance")

    def exchange_raw(
        self,
        subject: Token,
        who: Client,
        resource: str,
        *,
        scope: str | None = None,
        extra: list[tuple[str, str]] | None = None,
        dpop: jose.Key | None = None,
    ) -> tuple[httpx.Response, jose.Key]:
        key = dpop or jose.Key.generate("ES256")
        params = [
            ("grant_type", GT_EXCHANGE),
            ("subject_token", subject.raw),
            ("subject_token_type", TT_ACCESS),
            ("resource", resource),
        ]
        if scope is not None:
            params.append(("scope", scope))
        params += extra or []
        return self.token_request(who, params, key), key

    def exchange(
        self, subject: Token, who: Client, resource: str, *, scope: str | None = None
    ) -> Token:
        resp, key = self.exchange_raw(subject, who, resource, scope=scope)
        return self.accept_token(resp, who, key, subject.grant_id, parent=subject, what="exchange")

    def accept_token(
        self,
        resp: httpx.Response,
        holder: Client,
        key: jose.Key,
        grant_id: str,
        *,
        parent: Token | None,
        what: str,
    ) -> Token:
        if resp.status_code != 200:
            raise Failed(
                f"{what} refused: HTTP {resp.status_code} {oauth_error(resp)!r}",
                counterexample(resp),
            )
        body = resp.json()
        raw = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(raw, str):
            raise Failed(f"{what}: no access_token in the response", counterexample(resp))
        try:
            header, claims = jose.verify_with_jwks(raw, self.jwks())
        except jose.JoseError as exc:
            raise Failed(
                f"{what}: the issued token does not verify with the issuer's JWKS: {exc}",
                counterexample(resp, token=raw),
            ) from None
        return Token(raw, header, claims, holder, key, grant_id, parent)

    def introspect(self, who: Client, token: str) -> dict[str, Any]:
        resp = self.post_form("introspection_endpoint", [("token", token), *self.auth_params(who)])
        if resp.status_code != 200:
            raise Failed(f"introspection: HTTP {resp.status_code}", counterexample(resp))
        body = resp.json()
        return body if isinstance(body, dict) else {}

    def revoke_token(self, who: Client, token: str) -> httpx.Response:
        return self.post_form("revocation_endpoint", [("token", token), *self.auth_params(who)])

    def grants_url(self, suffix: str = "") -> str:
        return self.endpoint("mcpa_grants_endpoint").rstrip("/") + suffix

    def grants_auth(self, who: Client | None) -> dict[str, str]:
        if who is None:
            return {"Authorization": f"Bearer {self.config.grants.admin_token}"}
        assertion = jose.client_assertion(who.key, who.client_id, self.metadata()["issuer"])
        return {"Authorization": f"Bearer {assertion}"}

    def create_grant(self, **overrides: Any) -> str:
        if not self.admin:
            raise Skipped("grants mode is 'existing': the suite cannot create grants")
        g = self.config.grants
        body: dict[str, Any] = {
            "sub": g.user,
            "client_id": self.agent.client_id,
            "resources": self.resources(),
            "scopes": list(g.scopes),
            "tools": [t.client_id for t in self.tools],
            "models": list(g.models or [self.config.agent.model]),
            "purpose": "MCP-Auth conformance suite",
        }
        body.update(overrides)
        resp = self.client.post(self.grants_url(), json=body, headers=self.grants_auth(None))
        if resp.status_code != 201:
            raise Failed(
                f"admin grant creation: HTTP {resp.status_code} {oauth_error(resp)!r}",
                counterexample(resp, body=body),
            )
        grant = resp.json()
        if grant.get("status") != "active":
            raise Failed(
                "a grant created with the admin token is not active",
                counterexample(resp, body=body),
            )
        return str(grant["grant_id"])

    def grant(self) -> str:
        """A shared active grant for checks that do not revoke it."""
        if self._grant is None:
            if self.admin:
                self._grant = self.create_grant()
            else:
                self._grant = self.config.grants.grant_ids[0]
        return self._grant

    def revoke_grant(self, grant_id: str) -> httpx.Response:
        resp = self.client.delete(
            self.grants_url(f"/{grant_id}"), headers=self.grants_auth(self.agent)
        )
        self.revoked_grants.add(grant_id)
        return resp

    def tool(self, i: int = 0) -> Client:
        if not self.tools:
            raise Skipped("no tools in the target config")
        return self.tools[i % len(self.tools)]

    def tool_resource(self, i: int = 0) -> str:
        r = self.tool(i).resource
        assert r is not None
        return r

    def all_scopes(self) -> list[str]:
        return list(self.config.grants.scopes)

    def status_bit(self, token: Token) -> int:
        sl = token.claims["status"]["status_list"]
        resp = self.client.get(sl["uri"])
        if resp.status_code != 200:
            raise Failed(f"status list: HTTP {resp.status_code}", counterexample(resp))
        try:
            _, claims = jose.verify_with_jwks(resp.text.strip(), self.jwks())
            data = decode_status_list(claims["status_list"]["lst"])
        except (jose.JoseError, KeyError, TypeError, ValueError) as exc:
            raise Failed(f"status list token invalid: {exc}", counterexample(resp)) from None
        return status_bit(data, int(sl["idx"]))


registry: Registry[IssuerRun] = Registry("issuer")
check = registry.check


# -- discovery ------------------------------------------------------------------------------


@check(
    "metadata",
    "RFC 8414 metadata carries every standard and MCP-Auth field; issuer is the identifier",
    ["MCPA-DSC-001", "MCPA-DSC-002"],
)
def _metadata(run: IssuerRun) -> None:
    url = run.url.rstrip("/") + "/.well-known/oauth-authorization-server"
    resp = run.client.get(url)
    if resp.status_code != 200:
        raise Failed(f"GET {url}: HTTP {resp.status_code}", counterexample(resp))
    md = resp.json()
    problems = [f"missing {f}" for f in METADATA_FIELDS if f not in md]
    if md.get("issuer") != run.url:
        problems.append(f"issuer is {md.get('issuer')!r}, not the identifier {run.url!r}")
    if md.get("mcpa_version") != SPEC_VERSION:
        problems.append(f"mcpa_version is {md.get('mcpa_version')!r}")
    for name in ("token_endpoint_auth_methods_supported",):
        if md.get(name) != ["private_key_jwt"]:
            problems.append(f'{name} is not ["private_key_jwt"]')
    for name in ("mcpa_token_signing_alg_values_supported", "dpop_signing_alg_values_supported"):
        algs = md.get(name) or []
        if "ES256" not in algs or any(a not in jose.ALLOWED_ALGS for a in algs):
            problems.append(f"{name} must list ES256 and nothing outside ES256/EdDSA")
    for gt in (GT_GRANT, GT_EXCHANGE):
        if gt not in (md.get("grant_types_supported") or []):
            problems.append(f"grant_types_supported lacks {gt}")
    if isinstance(md.get("mcpa_max_chain_depth"), int) and md["mcpa_max_chain_depth"] > 5:
        problems.append("mcpa_max_chain_depth above 5")
    try:
        schemas.validate("issuer-metadata", md)
    except ValueError as exc:
        problems.append(f"schema: {exc}")
    if problems:
        raise Failed("; ".join(problems), counterexample(resp))


@check(
    "metadata_cacheable",
    "Metadata and JWKS responses carry Cache-Control with max-age",
    ["MCPA-DSC-007"],
)
def _cacheable(run: IssuerRun) -> None:
    for url in (
        run.url.rstrip("/") + "/.well-known/oauth-authorization-server",
        run.endpoint("jwks_uri"),
    ):
        resp = run.client.get(url)
        cc = resp.headers.get("cache-control", "")
        if "max-age" not in cc or "no-store" in cc:
            raise Failed(f"{url}: Cache-Control is {cc!r}", counterexample(resp))


@check(
    "jwks",
    "JWKS holds public keys only, with kid, alg and use, unique kids, an ES256 key",
    ["MCPA-DSC-003", "MCPA-TOK-002", "MCPA-TOK-003"],
)
def _jwks(run: IssuerRun) -> None:
    resp = run.client.get(run.endpoint("jwks_uri"))
    body = resp.json() if resp.status_code == 200 else None
    keys = body.get("keys") if isinstance(body, dict) else None
    if not isinstance(keys, list) or not keys:
        raise Failed("JWKS has no keys", counterexample(resp))
    problems = []
    kids = [k.get("kid") for k in keys if isinstance(k, dict)]
    if len(set(kids)) != len(kids):
        problems.append("duplicate kid")
    for k in keys:
        private = [m for m in ("d", "p", "q", "dp", "dq", "qi", "k") if m in k]
        if private:
            problems.append(f"key {k.get('kid')!r} has private members {private}")
        for m in ("kid", "alg", "use"):
            if m not in k:
                problems.append(f"key {k.get('kid')!r} lacks {m}")
        if k.get("alg") not in jose.ALLOWED_ALGS:
            problems.append(f"key {k.get('kid')!r} alg {k.get('alg')!r} not allowed")
        if k.get("use", "sig") != "sig":
            problems.append(f"key {k.get('kid')!r} use is not sig")
    if not any(k.get("alg") == "ES256" for k in keys):
        problems.append("no ES256 key")
    if problems:
        raise Failed("; ".join(problems), counterexample(resp))


# -- client authentication ------------------------------------------------------------------


def _issue_params(run: IssuerRun) -> list[tuple[str, str]]:
    return [
        ("grant_type", GT_GRANT),
        ("grant_id", run.grant()),
        ("resource", run.tool_resource(0)),
        ("actor_model", run.config.agent.model),
    ]


@check(
    "client_auth_required",
    "Token, revocation and introspection endpoints require "
    "private_key_jwt; failure is 401 invalid_client",
    ["MCPA-CLA-001", "MCPA-CLA-005"],
)
def _auth_required(run: IssuerRun) -> None:
    resp = run.token_request(run.agent, _issue_params(run), jose.Key.generate(), auth=False)
    expect_error(resp, 401, "invalid_client", "token request without client authentication")
    for ep in ("revocation_endpoint", "introspection_endpoint"):
        resp = run.post_form(ep, [("token", "x")])
        expect_error(resp, 401, "invalid_client", f"{ep} without client authentication")


@check(
    "client_auth_bad_assertion",
    "Bad client assertions are refused with 401 invalid_client",
    [
        "MCPA-CLA-002",
        "MCPA-CLA-004",
        "MCPA-CLA-005",
        "MCPA-CLA-007",
        "MCPA-CLA-008",
        "MCPA-CLA-009",
        "MCPA-CLA-010",
    ],
)
def _bad_assertion(run: IssuerRun) -> None:
    issuer = run.metadata()["issuer"]
    now = int(time.time())
    a = run.agent
    base = {"iss": a.client_id, "sub": a.client_id, "aud": issuer, "iat": now, "exp": now + 60}
    hdr = {"alg": a.key.alg, "kid": a.key.kid}
    stranger = jose.Key.generate()
    cases = {
        "signed by a key not registered for the client": jose.sign_compact(
            hdr, {**base, "jti": jose.random_id()}, stranger
        ),
        "aud of another server": jose.sign_compact(
            hdr, {**base, "aud": "https://other.example", "jti": jose.random_id()}, a.key
        ),
        "expired": jose.sign_compact(
            hdr, {**base, "iat": now - 600, "exp": now - 300, "jti": jose.random_id()}, a.key
        ),
        "iss differs from sub": jose.sign_compact(
            hdr, {**base, "iss": "someone-else", "jti": jose.random_id()}, a.key
        ),
        "alg none": jose.b64u_json({"alg": "none"})
        + "."
        + jose.b64u_json({**base, "jti": jose.random_id()})
        + ".",
        "lifetime over 300 s": jose.sign_compact(
            hdr, {**base, "exp": now + 3600, "jti": jose.random_id()}, a.key
        ),
        "unknown client": jose.sign_compact(
            hdr,
            {**base, "iss": "no-such-client-x", "sub": "no-such-client-x", "jti": jose.random_id()},
            a.key,
        ),
        "embedded jwk header": jose.sign_compact(
            {**hdr, "jwk": stranger.public_jwk()}, {**base, "jti": jose.random_id()}, stranger
        ),
        "typ mcpa+jwt (another MCP-Auth JWT)": jose.sign_compact(
            {**hdr, "typ": "mcpa+jwt"}, {**base, "jti": jose.random_id()}, a.key
        ),
    }
    # A client_id parameter naming another client than the assertion (MCPA-CLA-009).
    resp = run.token_request(
        run.agent, [*_issue_params(run), ("client_id", run.tool(0).client_id)], jose.Key.generate()
    )
    expect_error(resp, 401, "invalid_client", "client_id parameter differing from the assertion")
    for label, assertion in cases.items():
        params = _issue_params(run) + run.auth_params(a, assertion=assertion)
        resp = run.post_form(
            "token_endpoint",
            params,
            {"DPoP": jose.dpop_proof(jose.Key.generate(), "POST", run.endpoint("token_endpoint"))},
        )
        expect_error(resp, 401, "invalid_client", f"assertion {label}", token=assertion)


@check(
    "client_assertion_replay",
    "A client assertion jti used twice is refused",
    ["MCPA-CLA-003", "MCPA-CLA-005"],
)
def _assertion_replay(run: IssuerRun) -> None:
    assertion = jose.client_assertion(run.agent.key, run.agent.client_id, run.metadata()["issuer"])
    params = [("token", "not-a-token"), *run.auth_params(run.agent, assertion=assertion)]
    first = run.post_form("introspection_endpoint", params)
    if first.status_code != 200:
        raise Failed(
            f"first use of a fresh assertion refused: HTTP {first.status_code}",
            counterexample(first),
        )
    second = run.post_form("introspection_endpoint", params)
    expect_error(second, 401, "invalid_client", "replayed client assertion", token=assertion)


# -- issuance ---------------------------------------------------------------------------------


@check(
    "unsupported_grant_type",
    "An unknown grant_type is refused with unsupported_grant_type",
    ["MCPA-ISS-001", "MCPA-ISS-011"],
)
def _bad_gt(run: IssuerRun) -> None:
    resp = run.token_request(
        run.agent, [("grant_type", "password"), ("username", "a")], jose.Key.generate()
    )
    expect_error(resp, 400, "unsupported_grant_type", "grant_type=password")


@check(
    "issuance_bad_params",
    "Missing and repeated parameters are refused with invalid_request",
    ["MCPA-ISS-001", "MCPA-ISS-012", "MCPA-XCH-001"],
)
def _bad_params(run: IssuerRun) -> None:
    full = _issue_params(run)
    for name in ("grant_id", "resource", "actor_model"):
        params = [p for p in full if p[0] != name]
        resp = run.token_request(run.agent, params, jose.Key.generate())
        expect_error(resp, 400, "invalid_request", f"issuance without {name}")
    resp = run.token_request(
        run.agent, [*full, ("resource", run.final_resource())], jose.Key.generate()
    )
    expect_error(resp, 400, "invalid_request", "resource parameter repeated")
    resp = run.token_request(
        run.agent, [*full, ("requested_token_type", "urn:x:other")], jose.Key.generate()
    )
    expect_error(resp, 400, "invalid_request", "issuance with an unsupported requested_token_type")
    subject = run.issue(run.grant())
    params = [
        ("grant_type", GT_EXCHANGE),
        ("subject_token", subject.raw),
        ("subject_token_type", "urn:ietf:params:oauth:token-type:jwt"),
        ("resource", run.final_resource()),
    ]
    resp = run.token_request(run.tool(0), params, jose.Key.generate())
    expect_error(resp, 400, "invalid_request", "exchange with subject_token_type jwt")
    resp, _ = run.exchange_raw(
        subject, run.tool(0), run.final_resource(), extra=[("subject_token_type", "urn:x:other")]
    )
    expect_error(resp, 400, "invalid_request", "exchange with subject_token_type repeated")


@check(
    "issuance_dpop", "The token endpoint requires a valid, unreplayed DPoP proof", ["MCPA-ISS-002"]
)
def _iss_dpop(run: IssuerRun) -> None:
    ep = run.endpoint("token_endpoint")
    resp = run.token_request(run.agent, _issue_params(run), None)
    expect_error(resp, 400, "invalid_dpop_proof", "issuance without a DPoP proof")
    key = jose.Key.generate()
    bad = {
        "htu of another endpoint": jose.dpop_proof(key, "POST", ep + "/other"),
        "htm GET": jose.dpop_proof(key, "GET", ep),
        "stale iat": jose.dpop_proof(key, "POST", ep, iat=int(time.time()) - 3600),
        "typ jwt": jose.dpop_proof(key, "POST", ep, header_overrides={"typ": "jwt"}),
    }
    for label, proof in bad.items():
        resp = run.token_request(run.agent, _issue_params(run), key, proof=proof)
        expect_error(resp, 400, "invalid_dpop_proof", f"DPoP proof with {label}", token=proof)
    proof = jose.dpop_proof(key, "POST", ep)
    first = run.token_request(run.agent, _issue_params(run), key, proof=proof)
    if first.status_code != 200:
        raise Failed("issuance with a fresh proof refused", counterexample(first))
    second = run.token_request(run.agent, _issue_params(run), key, proof=proof)
    expect_error(second, 400, "invalid_dpop_proof", "replayed DPoP proof", token=proof)


def check_token_claims(run: IssuerRun, tok: Token, resp: httpx.Response | None = None) -> None:
    """Token content rules common to issuance and exchange (MCPA-TOK-*)."""
    h, c = tok.header, tok.claims
    problems = []
    if str(h.get("typ", "")).lower() not in ("mcpa+jwt", "application/mcpa+jwt"):
        problems.append(f"typ is {h.get('typ')!r}")
    for bad in ("jku", "x5u", "jwk", "x5c", "crit"):
        if bad in h:
            problems.append(f"header carries {bad}")
    for name, typ in (
        ("iss", str),
        ("sub", str),
        ("aud", str),
        ("client_id", str),
        ("iat", int),
        ("exp", int),
        ("jti", str),
        ("scope", str),
        ("grant_id", str),
        ("cnf", dict),
        ("status", dict),
        ("act", dict),
    ):
        if not isinstance(c.get(name), typ) or isinstance(c.get(name), bool):
            problems.append(f"claim {name} missing or not {typ.__name__}")
    if problems:
        raise Failed("; ".join(problems), _token_cx(resp, tok))
    if c["iss"] != run.metadata()["issuer"]:
        problems.append("iss is not the issuer identifier")
    if c["exp"] - c["iat"] > int(run.metadata().get("mcpa_max_token_lifetime", 300)):
        problems.append("exp - iat exceeds mcpa_max_token_lifetime")
    if c["cnf"].get("jkt") != tok.dpop.thumbprint():
        problems.append("cnf.jkt is not the thumbprint of the requester's DPoP key")
    if c["client_id"] != tok.holder.client_id:
        problems.append(f"client_id is {c['client_id']!r}, not the holder {tok.holder.client_id!r}")
    if c["grant_id"] != tok.grant_id:
        problems.append("grant_id is not the grant")
    if len(c["jti"]) < 16:
        problems.append("jti too short for 128 bits of randomness")
    sl = c["status"].get("status_list")
    if (
        not isinstance(sl, dict)
        or not isinstance(sl.get("idx"), int)
        or not str(sl.get("uri", "")).startswith(run.metadata()["issuer"].rstrip("/") + "/")
    ):
        problems.append("status.status_list must have an integer idx and a uri under the issuer")
    hops = []
    node: Any = c["act"]
    while isinstance(node, dict):
        hops.append((node.get("actor_type"), node.get("sub")))
        node = node.get("act")
    inner = list(reversed(hops))
    expected_inner = [("agent", run.agent.client_id), ("model", run.config.agent.model)]
    if inner[:2] != expected_inner or any(t != "tool" for t, _ in inner[2:]):
        problems.append(f"chain {inner} is not agent, model, tools")
    if problems:
        raise Failed("; ".join(problems), _token_cx(resp, tok))


def _token_cx(resp: httpx.Response | None, tok: Token) -> dict[str, Any] | None:
    if resp is None:
        return None
    return counterexample(resp, token=tok.raw)


@check(
    "issuance",
    "Issuance returns a DPoP-bound token with the profile's header and claims, "
    "the response fields and Cache-Control: no-store",
    [
        "MCPA-ISS-008",
        "MCPA-ISS-009",
        "MCPA-ISS-010",
        "MCPA-TOK-001",
        "MCPA-TOK-004",
        "MCPA-TOK-005",
        "MCPA-TOK-006",
        "MCPA-TOK-007",
        "MCPA-TOK-008",
        "MCPA-TOK-009",
        "MCPA-TOK-011",
        "MCPA-TOK-013",
    ],
)
def _issuance(run: IssuerRun) -> None:
    grant = run.grant()
    resource = run.tool_resource(0)
    resp, key = run.issue_raw(grant, resource)
    tok = run.accept_token(resp, run.agent, key, grant, parent=None, what="issuance")
    body = resp.json()
    problems = []
    for name in (
        "access_token",
        "token_type",
        "expires_in",
        "scope",
        "issued_token_type",
        "grant_id",
    ):
        if name not in body:
            problems.append(f"response lacks {name}")
    extra = sorted(
        set(body)
        - {"access_token", "token_type", "expires_in", "scope", "issued_token_type", "grant_id"}
    )
    if extra:
        problems.append(f"response has members beyond the six defined: {extra}")
    if body.get("token_type") != "DPoP":
        problems.append("token_type is not DPoP")
    if body.get("issued_token_type") != TT_ACCESS:
        problems.append("issued_token_type is not access_token")
    if "no-store" not in resp.headers.get("cache-control", ""):
        problems.append("Cache-Control: no-store missing")
    if tok.claims.get("aud") != resource:
        problems.append(f"aud is {tok.claims.get('aud')!r}, not the requested resource")
    if tok.depth != 2:
        problems.append(f"depth {tok.depth}, not 2 (agent, model)")
    if not tok.scopes <= set(run.all_scopes()) and run.admin:
        problems.append("scope wider than the grant")
    if problems:
        raise Failed("; ".join(problems), counterexample(resp, token=tok.raw))
    check_token_claims(run, tok, resp)
    if len(run.all_scopes()) > 1:
        one = run.all_scopes()[0]
        narrow = run.issue(grant, resource, scope=one)
        if narrow.scopes != {one}:
            raise Failed(f"scope={one!r} requested, token scope {narrow.claims.get('scope')!r}")


@check(
    "issuance_refusals",
    "Issuance outside the grant is refused with the spec's errors",
    ["MCPA-ISS-003", "MCPA-ISS-004", "MCPA-ISS-005", "MCPA-ISS-006", "MCPA-ISS-007"],
)
def _iss_refusals(run: IssuerRun) -> None:
    grant = run.grant()
    r = run.tool_resource(0)
    resp, _ = run.issue_raw(grant, r, who=run.tool(0))
    expect_error(resp, 400, "invalid_grant", "a tool using the agent's grant")
    resp, _ = run.issue_raw("grt_does_not_exist_" + jose.random_id(), r)
    expect_error(resp, 400, "invalid_grant", "an unknown grant_id")
    resp, _ = run.issue_raw(grant, r, model="model-not-in-grant-" + jose.random_id(4))
    expect_error(resp, 400, "invalid_grant", "actor_model not in the grant")
    resp, _ = run.issue_raw(grant, "https://not-in-grant.example/api")
    expect_error(resp, 400, "invalid_target", "resource not in the grant")
    resp, _ = run.issue_raw(grant, r, scope="scope-not-in-grant:" + jose.random_id(4))
    expect_error(resp, 400, "invalid_scope", "scope not in the grant")


# -- exchange ----------------------------------------------------------------------------------


@check(
    "exchange",
    "Exchange by the audience appends it to the chain, binds its key, copies "
    "sub/grant_id/status and never extends expiry",
    ["MCPA-XCH-006", "MCPA-XCH-009", "MCPA-XCH-010", "MCPA-XCH-011", "MCPA-ISS-010"],
)
def _exchange(run: IssuerRun) -> None:
    grant = run.grant()
    subject = run.issue(grant)
    resp, key = run.exchange_raw(subject, run.tool(0), run.final_resource())
    new = run.accept_token(resp, run.tool(0), key, grant, parent=subject, what="exchange")
    check_token_claims(run, new, resp)
    c, p = new.claims, subject.claims
    problems = []
    body = resp.json()
    if body.get("issued_token_type") != TT_ACCESS:
        problems.append("issued_token_type is not access_token")
    if body.get("token_type") != "DPoP":
        problems.append("token_type is not DPoP")
    if "no-store" not in resp.headers.get("cache-control", ""):
        problems.append("Cache-Control: no-store missing")
    for name in ("sub", "grant_id", "status"):
        if c.get(name) != p.get(name):
            problems.append(f"{name} not copied from the subject token")
    if c.get("act", {}).get("act") != p.get("act"):
        problems.append("act is not the subject's chain with the exchanger prepended")
    if c.get("act", {}).get("actor_type") != "tool" or c["act"].get("sub") != run.tool(0).client_id:
        problems.append("outermost hop is not the exchanging tool")
    if c["exp"] > p["exp"]:
        problems.append("exp extends beyond the subject token's")
    if not new.scopes <= subject.scopes:
        problems.append("scope grew")
    if c.get("aud") != run.final_resource():
        problems.append("aud is not the requested resource")
    if problems:
        raise Failed("; ".join(problems), counterexample(resp, token=new.raw))


@check(
    "exchange_expiry", "Exchange never extends expiry beyond the subject token's", ["MCPA-XCH-006"]
)
def _xch_expiry(run: IssuerRun) -> None:
    # In admin mode a grant expiring in 2 minutes caps the subject token's exp well below
    # now + lifetime.
    grant = run.create_grant(expires_in=120) if run.admin else run.grant()
    subject = run.issue(grant)
    if not run.admin:
        time.sleep(1.1)  # whole seconds: a fresh "now + lifetime" would now exceed subject exp
    resp, key = run.exchange_raw(subject, run.tool(0), run.final_resource())
    new = run.accept_token(resp, run.tool(0), key, grant, parent=subject, what="exchange")
    if new.claims["exp"] > subject.claims["exp"]:
        raise Failed(
            f"exchanged token exp {new.claims['exp']} is later than the subject "
            f"token's {subject.claims['exp']}",
            counterexample(resp, token=new.raw),
        )


@check(
    "exchange_only_audience", "Only the subject token's audience may exchange it", ["MCPA-XCH-003"]
)
def _only_audience(run: IssuerRun) -> None:
    subject = run.issue(run.grant())
    resp, _ = run.exchange_raw(subject, run.agent, run.final_resource())
    expect_error(resp, 400, "invalid_grant", "the agent (not the audience) exchanging its token")
    hop = run.exchange(subject, run.tool(0), run.final_resource())
    resp, _ = run.exchange_raw(hop, run.tool(0), run.final_resource())
    if run.final_resource() != run.tool_resource(0):
        expect_error(
            resp, 400, "invalid_grant", "a tool exchanging a token whose aud is another resource"
        )
    if len(run.tools) > 1:
        resp, _ = run.exchange_raw(subject, run.tool(1), run.tool_resource(1))
        expect_error(resp, 400, "invalid_grant", "a second tool exchanging the first tool's token")


@check(
    "exchange_scope", "Exchange never widens scope; a narrower scope is honoured", ["MCPA-XCH-005"]
)
def _xch_scope(run: IssuerRun) -> None:
    scopes = run.all_scopes()
    subject = run.issue(run.grant(), scope=scopes[0])
    wider = " ".join(scopes) if len(scopes) > 1 else scopes[0] + " extra:scope"
    resp, _ = run.exchange_raw(subject, run.tool(0), run.final_resource(), scope=wider)
    expect_error(resp, 400, "invalid_scope", "exchange asking for more scope than the subject")
    resp, _ = run.exchange_raw(subject, run.tool(0), run.final_resource(), scope="nope:x")
    expect_error(resp, 400, "invalid_scope", "exchange asking for an unrelated scope")


@check(
    "exchange_resource",
    "Exchange for a resource outside the grant is refused with invalid_target",
    ["MCPA-XCH-008"],
)
def _xch_target(run: IssuerRun) -> None:
    subject = run.issue(run.grant())
    resp, _ = run.exchange_raw(subject, run.tool(0), "https://not-in-grant.example/api")
    expect_error(resp, 400, "invalid_target", "exchange for a resource not in the grant")


@check(
    "exchange_actor_token",
    "actor_token in an exchange is refused with invalid_request",
    ["MCPA-XCH-012", "MCPA-XCH-001"],
)
def _xch_actor(run: IssuerRun) -> None:
    subject = run.issue(run.grant())
    resp, _ = run.exchange_raw(
        subject,
        run.tool(0),
        run.final_resource(),
        extra=[("actor_token", subject.raw), ("actor_token_type", TT_ACCESS)],
    )
    expect_error(resp, 400, "invalid_request", "exchange with actor_token")


@check(
    "exchange_bad_subject",
    "A tampered or foreign subject token is refused with invalid_grant",
    ["MCPA-XCH-002"],
)
def _xch_subject(run: IssuerRun) -> None:
    subject = run.issue(run.grant())
    head, body, sig = subject.raw.split(".")
    raw_sig = bytearray(jose.b64u_decode(sig))
    raw_sig[5] ^= 1
    tampered = Token(
        f"{head}.{body}.{jose.b64u(bytes(raw_sig))}",
        subject.header,
        subject.claims,
        subject.holder,
        subject.dpop,
        subject.grant_id,
    )
    resp, _ = run.exchange_raw(tampered, run.tool(0), run.final_resource())
    expect_error(
        resp, 400, "invalid_grant", "subject token with a flipped signature bit", token=tampered.raw
    )
    forged_raw = jose.sign_compact(
        subject.header, subject.claims, jose.Key.generate("ES256", str(subject.header.get("kid")))
    )
    forged = Token(
        forged_raw, subject.header, subject.claims, subject.holder, subject.dpop, subject.grant_id
    )
    resp, _ = run.exchange_raw(forged, run.tool(0), run.final_resource())
    expect_error(
        resp, 400, "invalid_grant", "subject token signed by another key", token=forged_raw
    )


@check(
    "exchange_tool_not_in_grant", "A tool not listed in the grant cannot exchange", ["MCPA-XCH-004"]
)
def _xch_tool(run: IssuerRun) -> None:
    grant = run.create_grant(tools=["tool-not-registered-" + jose.random_id(4)])
    subject = run.issue(grant)
    resp, _ = run.exchange_raw(subject, run.tool(0), run.final_resource())
    expect_error(resp, 400, "invalid_grant", "exchange by a tool outside the grant's tools")


def _deepen(run: IssuerRun, tok: Token) -> tuple[httpx.Response, jose.Key]:
    """Exchange ``tok`` by its audience, for the audience's own resource (one more hop)."""
    aud = tok.claims.get("aud")
    tool = next((t for t in run.tools if t.resource == aud), None)
    if tool is None:
        raise Skipped("no configured tool is the audience of the token")
    assert tool.resource is not None
    return run.exchange_raw(tok, tool, tool.resource)


@check(
    "exchange_depth",
    "Exchange beyond the grant's or the issuer's maximum depth is refused",
    ["MCPA-XCH-007", "MCPA-GRT-009"],
)
def _xch_depth(run: IssuerRun) -> None:
    limits: list[tuple[str, int]] = [("issuer maximum", run.max_depth)]
    if run.admin:
        limits.insert(0, ("grant max_depth 3", 3))
    for label, limit in limits:
        grant = run.create_grant(max_depth=3) if label.startswith("grant") else run.grant()
        tok = run.issue(grant)
        while tok.depth < limit:
            resp, key = _deepen(run, tok)
            tok = run.accept_token(
                resp,
                _holder_for(run, tok),
                key,
                grant,
                parent=tok,
                what=f"exchange to depth {tok.depth + 1} ({label} {limit})",
            )
        resp, _ = _deepen(run, tok)
        expect_error(
            resp, 400, "invalid_grant", f"exchange to depth {limit + 1} ({label})", token=tok.raw
        )


def _holder_for(run: IssuerRun, tok: Token) -> Client:
    return next(t for t in run.tools if t.resource == tok.claims.get("aud"))


# -- revocation, introspection, status ---------------------------------------------------------


@check(
    "introspection",
    "Introspection answers the holder and the audience, and nobody else",
    ["MCPA-REV-006", "MCPA-REV-007", "MCPA-REV-013", "MCPA-REV-014"],
)
def _introspection(run: IssuerRun) -> None:
    subject = run.issue(run.grant())
    for who, label in ((run.agent, "holder"), (run.tool(0), "audience")):
        info = run.introspect(who, subject.raw)
        if info.get("active") is not True:
            raise Failed(f"introspection by the {label} is not active: {info}")
        for name in (
            "iss",
            "sub",
            "aud",
            "client_id",
            "scope",
            "exp",
            "iat",
            "jti",
            "grant_id",
            "act",
            "cnf",
            "token_type",
        ):
            if name not in info:
                raise Failed(f"introspection by the {label} lacks {name}")
    hop = run.exchange(subject, run.tool(0), run.final_resource())
    if run.final_resource() not in {t.resource for t in run.tools}:
        info = run.introspect(run.agent, hop.raw)
        if info.get("active") is not False:
            raise Failed("introspection answered a client that is neither holder nor audience")
    info = run.introspect(run.agent, "eyJhbGciOiJFUzI1NiJ9.e30.AAAA")
    if info != {"active": False}:
        raise Failed(f"an invalid token introspects as {info}, not {{'active': false}}")
    resp = run.post_form("introspection_endpoint", [*run.auth_params(run.agent)])
    expect_error(resp, 400, "invalid_request", "introspection without a token parameter")
    resp = run.post_form(
        "introspection_endpoint", [("token", subject.raw), *run.auth_params(run.agent)]
    )
    if "no-store" not in resp.headers.get("cache-control", ""):
        raise Failed(
            "introspection response without Cache-Control: no-store",
            counterexample(resp, token=subject.raw),
        )


@check(
    "token_revocation",
    "RFC 7009 revocation by the holder makes the token and its "
    "descendants inactive and un-exchangeable; others cannot revoke it",
    ["MCPA-REV-005", "MCPA-REV-004"],
)
def _token_revocation(run: IssuerRun) -> None:
    grant = run.grant()
    subject = run.issue(grant)
    child = run.exchange(subject, run.tool(0), run.tool_resource(0))
    resp = run.revoke_token(run.tool(0), subject.raw)  # not the holder
    if run.introspect(run.agent, subject.raw).get("active") is not True:
        raise Failed("a client other than the holder revoked the token", counterexample(resp))

    resp = run.revoke_token(run.agent, subject.raw)
    if resp.status_code != 200:
        raise Failed(f"revocation by the holder: HTTP {resp.status_code}", counterexample(resp))
    if run.introspect(run.agent, subject.raw).get("active") is not False:
        raise Failed("revoked token still active at introspection")
    if run.introspect(run.tool(0), child.raw).get("active") is not False:
        raise Failed("a token exchanged from a revoked token is still active")
    r2, _ = run.exchange_raw(subject, run.tool(0), run.final_resource())
    expect_error(r2, 400, "invalid_grant", "exchange of a revoked token")
    r3, _ = run.exchange_raw(child, run.tool(0), run.final_resource())
    expect_error(r3, 400, "invalid_grant", "exchange of a descendant of a revoked token")
    r4 = run.revoke_token(run.agent, "unknown-token-" + jose.random_id())
    if r4.status_code != 200:
        raise Failed("revoking an unknown token is not 200", counterexample(r4))


@check(
    "status_list",
    "The status list token is signed, typed statuslist+jwt, fresh, and the "
    "grant's bit is 0 while active; all tokens of a grant share its index",
    ["MCPA-REV-002", "MCPA-REV-003", "MCPA-REV-008", "MCPA-TOK-007"],
)
def _status_list(run: IssuerRun) -> None:
    grant = run.grant()
    a = run.issue(grant)
    b = run.exchange(a, run.tool(0), run.final_resource())
    if a.claims["status"] != b.claims["status"]:
        raise Failed("tokens of the same grant carry different status indices")
    uri = a.claims["status"]["status_list"]["uri"]
    resp = run.client.get(uri)
    problems = []
    if resp.status_code != 200:
        raise Failed(f"GET {uri}: HTTP {resp.status_code}", counterexample(resp))
    if "application/statuslist+jwt" not in resp.headers.get("content-type", ""):
        problems.append("content type is not application/statuslist+jwt")
    try:
        header, claims = jose.verify_with_jwks(resp.text.strip(), run.jwks())
    except jose.JoseError as exc:
        raise Failed(f"status list token does not verify: {exc}", counterexample(resp)) from None
    if header.get("typ") != "statuslist+jwt":
        problems.append(f"typ is {header.get('typ')!r}")
    if claims.get("sub") != uri:
        problems.append("sub is not the list URI")
    max_age = int(run.metadata().get("mcpa_status_list_max_age", 60))
    if not isinstance(claims.get("ttl"), int) or claims["ttl"] > max_age:
        problems.append(f"ttl {claims.get('ttl')!r} missing or above {max_age}")
    for name in ("iat", "exp"):
        if not isinstance(claims.get(name), int):
            problems.append(f"{name} missing")
    sl = claims.get("status_list") or {}
    if sl.get("bits") != 1:
        problems.append("bits is not 1")
    try:
        data = decode_status_list(sl.get("lst", ""))
        if status_bit(data, a.claims["status"]["status_list"]["idx"]) != 0:
            problems.append("the bit of an active grant is set")
    except (jose.JoseError, ValueError, IndexError, TypeError) as exc:
        problems.append(f"lst does not decode: {exc}")
    if problems:
        raise Failed("; ".join(problems), counterexample(resp))


@check(
    "grant_revocation",
    "Revoking a grant sets its status bit at once and cascades: every "
    "derived token inactive, no issuance or exchange; DELETE is idempotent",
    ["MCPA-REV-001", "MCPA-REV-004", "MCPA-REV-010", "MCPA-GRT-007"],
)
def _grant_revocation(run: IssuerRun) -> None:
    grant = run.create_grant()
    a = run.issue(grant)
    b = run.exchange(a, run.tool(0), run.tool_resource(0))
    for attempt in ("first", "second"):
        resp = run.revoke_grant(grant)
        if resp.status_code != 204:
            raise Failed(
                f"{attempt} DELETE /grants/{{id}}: HTTP {resp.status_code}", counterexample(resp)
            )
    if run.status_bit(a) != 1:
        raise Failed("the grant's status bit is not set right after revocation")
    for tok, who in ((a, run.agent), (b, run.tool(0))):
        if run.introspect(who, tok.raw).get("active") is not False:
            raise Failed(f"a token of the revoked grant (depth {tok.depth}) is still active")
    resp, _ = run.issue_raw(grant, run.tool_resource(0))
    expect_error(resp, 400, "invalid_grant", "issuance under a revoked grant")
    resp, _ = run.exchange_raw(a, run.tool(0), run.final_resource())
    expect_error(resp, 400, "invalid_grant", "exchange under a revoked grant")
    resp, _ = _deepen(run, b)
    expect_error(resp, 400, "invalid_grant", "exchange of a derived token under a revoked grant")
    got = run.client.get(run.grants_url(f"/{grant}"), headers=run.grants_auth(run.agent))
    if got.status_code == 200 and got.json().get("status") != "revoked":
        raise Failed("the revoked grant does not read as revoked", counterexample(got))


# -- grants API ------------------------------------------------------------------------------


@check(
    "grant_object",
    "A grant reads back with every field of the grant object",
    ["MCPA-GRT-001", "MCPA-GRT-002"],
)
def _grant_object(run: IssuerRun) -> None:
    grant = run.grant()
    resp = run.client.get(run.grants_url(f"/{grant}"), headers=run.grants_auth(run.agent))
    if resp.status_code != 200:
        raise Failed(f"GET own grant: HTTP {resp.status_code}", counterexample(resp))
    g = resp.json()
    problems = [
        f"missing {f}"
        for f in (
            "grant_id",
            "status",
            "sub",
            "client_id",
            "resources",
            "scopes",
            "tools",
            "models",
            "max_depth",
            "max_token_lifetime",
            "created_at",
            "expires_at",
            "status_list",
        )
        if f not in g
    ]
    if len(str(g.get("grant_id", ""))) < 22:
        problems.append("grant_id too short for 128 bits of randomness")
    try:
        schemas.validate("grant", g)
    except ValueError as exc:
        problems.append(f"schema: {exc}")
    if problems:
        raise Failed("; ".join(problems), counterexample(resp))


@check(
    "revocation_non_holder_quiet",
    "Revocation by a client that is not the holder is answered as for an unknown token",
    ["MCPA-REV-012"],
    severity="SHOULD",
)
def _revoke_quiet(run: IssuerRun) -> None:
    subject = run.issue(run.grant())
    resp = run.revoke_token(run.tool(0), subject.raw)
    if resp.status_code != 200 or resp.content.strip():
        raise Failed(
            f"HTTP {resp.status_code} with {len(resp.content)} bytes, not 200 with an empty body",
            counterexample(resp, token=subject.raw),
        )


@check(
    "grant_list_own",
    "GET /grants lists the caller's own grants and never another client's",
    ["MCPA-GRT-005"],
)
def _grant_list(run: IssuerRun) -> None:
    grant = run.grant()
    own = run.client.get(run.grants_url(), headers=run.grants_auth(run.agent))
    other = run.client.get(run.grants_url(), headers=run.grants_auth(run.tool(0)))
    for resp, who in ((own, "agent"), (other, "tool")):
        if resp.status_code != 200:
            raise Failed(f"GET /grants by the {who}: HTTP {resp.status_code}", counterexample(resp))

    def ids(resp: httpx.Response) -> set[str]:
        body = resp.json()
        items = body.get("grants") if isinstance(body, dict) else body
        return {str(g.get("grant_id")) for g in items or [] if isinstance(g, dict)}

    if grant not in ids(own):
        raise Failed("the agent's own grant is missing from GET /grants", counterexample(own))
    if grant in ids(other):
        raise Failed("GET /grants by a tool lists the agent's grant", counterexample(other))


@check(
    "parameter_handling",
    "Unknown form parameters are ignored and an empty value counts as omitted",
    ["MCPA-GEN-004", "MCPA-GEN-006"],
)
def _params(run: IssuerRun) -> None:
    grant = run.grant()
    key = jose.Key.generate()
    params = [*_issue_params(run), ("x_vendor_extension", "1"), ("scope", "")]
    resp = run.token_request(run.agent, params, key)
    tok = run.accept_token(
        resp,
        run.agent,
        key,
        grant,
        parent=None,
        what="issuance with an unknown parameter and an empty scope",
    )
    if run.admin and tok.scopes != set(run.all_scopes()):
        raise Failed(
            "an empty scope parameter was not treated as omitted (all grant scopes)",
            counterexample(resp, token=tok.raw),
        )


@check("grant_others_not_found", "Another client's grant reads as 404 not_found", ["MCPA-GRT-006"])
def _grant_others(run: IssuerRun) -> None:
    grant = run.grant()
    resp = run.client.get(run.grants_url(f"/{grant}"), headers=run.grants_auth(run.tool(0)))
    expect_error(resp, 404, "not_found", "a tool reading the agent's grant")


@check(
    "grant_pending",
    "A grant created by a client is pending with an approval_uri and yields no tokens",
    ["MCPA-GRT-004", "MCPA-GRT-003", "MCPA-ISS-004"],
)
def _grant_pending(run: IssuerRun) -> None:
    g = run.config.grants
    if not g.user:
        raise Skipped("no grants.user in the target config")
    body = {
        "sub": g.user,
        "resources": [run.tool_resource(0)],
        "scopes": list(g.scopes or ["data:read"])[:1],
        "tools": [run.tool(0).client_id],
        "models": [run.config.agent.model],
        "purpose": "conformance pending check",
    }
    resp = run.client.post(run.grants_url(), json=body, headers=run.grants_auth(run.agent))
    if resp.status_code != 201:
        raise Failed(
            f"client grant creation: HTTP {resp.status_code}", counterexample(resp, body=body)
        )
    grant = resp.json()
    if grant.get("status") != "pending" or not grant.get("approval_uri"):
        raise Failed(
            "a client-created grant is not pending with an approval_uri",
            counterexample(resp, body=body),
        )
    resp2, _ = run.issue_raw(str(grant["grant_id"]), run.tool_resource(0))
    expect_error(resp2, 400, "invalid_grant", "issuance under a pending grant")


@check(
    "grant_bad_create",
    "A malformed grant creation is refused with invalid_request",
    ["MCPA-GRT-013"],
)
def _grant_bad(run: IssuerRun) -> None:
    body = {
        "sub": run.config.grants.user or "alice",
        "resources": "not-a-list",
        "scopes": [],
        "tools": [],
        "models": [],
    }
    resp = run.client.post(run.grants_url(), json=body, headers=run.grants_auth(run.agent))
    expect_error(resp, 400, "invalid_request", "grant creation with resources not a list")


def event_hash(event: dict[str, Any]) -> str:
    body = {k: v for k, v in event.items() if k != "hash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@check(
    "grant_events",
    "The grant's audit events list issuance and exchange with the chain, "
    "hash correctly, and never contain tokens",
    ["MCPA-GRT-012", "MCPA-AUD-001", "MCPA-AUD-002", "MCPA-AUD-003", "MCPA-AUD-006"],
)
def _events(run: IssuerRun) -> None:
    grant = run.grant()
    a = run.issue(grant)
    b = run.exchange(a, run.tool(0), run.final_resource())
    resp = run.client.get(run.grants_url(f"/{grant}/events"), headers=run.grants_auth(run.agent))
    if resp.status_code != 200:
        raise Failed(f"GET events: HTTP {resp.status_code}", counterexample(resp))
    body = resp.json()
    events = body.get("events") if isinstance(body, dict) else body
    if not isinstance(events, list):
        raise Failed("events response has no list of events", counterexample(resp))
    problems = []
    types = {e.get("type") for e in events if isinstance(e, dict)}
    for t in ("token.issued", "token.exchanged"):
        if t not in types:
            problems.append(f"no {t} event")
    jtis = {e.get("token_jti") for e in events if isinstance(e, dict)}
    for tok in (a, b):
        if tok.claims["jti"] not in jtis:
            problems.append(f"no event names token jti {tok.claims['jti']}")
    for e in events:
        if isinstance(e, dict) and e.get("hash") != event_hash(e):
            problems.append(f"event {e.get('seq')} hash does not match its content")
            break
    exchanged = [
        e
        for e in events
        if isinstance(e, dict)
        and e.get("type") == "token.exchanged"
        and e.get("token_jti") == b.claims["jti"]
    ]
    if exchanged and exchanged[0].get("act") != b.claims.get("act"):
        problems.append("token.exchanged event does not carry the full chain")
    text = resp.text
    if a.raw in text or b.raw in text or a.raw.split(".")[2] in text:
        problems.append("events contain a token")
    try:
        for e in events:
            schemas.validate("audit-event", e)
    except ValueError as exc:
        problems.append(f"schema: {exc}")
    if problems:
        raise Failed("; ".join(problems), counterexample(resp))


# -- errors and limits -------------------------------------------------------------------------


@check(
    "error_format",
    "Errors are OAuth JSON with Cache-Control: no-store and no internal detail",
    ["MCPA-GEN-002", "MCPA-ISS-011", "MCPA-ISS-010"],
)
def _error_format(run: IssuerRun) -> None:
    samples = [
        run.post_form("token_endpoint", [("grant_type", GT_GRANT)]),
        run.client.post(
            run.endpoint("token_endpoint"),
            content=b"\xff\xfe{not a form",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        run.client.post(
            run.endpoint("token_endpoint"),
            content=b"[1,2",
            headers={"Content-Type": "application/json"},
        ),
    ]
    for resp in samples:
        problems = []
        if resp.status_code < 400 or resp.status_code >= 500:
            problems.append(f"HTTP {resp.status_code}")
        err = oauth_error(resp)
        if err is None:
            problems.append("body is not an OAuth error object")
        if not resp.headers.get("content-type", "").startswith("application/json"):
            problems.append("Content-Type is not application/json")
        if "no-store" not in resp.headers.get("cache-control", ""):
            problems.append("Cache-Control: no-store missing")
        if "Traceback" in resp.text or 'File "' in resp.text:
            problems.append("stack trace in the response")
        if problems:
            raise Failed("; ".join(problems), counterexample(resp))


@check(
    "body_limit", "A request body over 64 KiB is refused with 413 invalid_request", ["MCPA-GEN-003"]
)
def _body_limit(run: IssuerRun) -> None:
    resp = run.client.post(
        run.endpoint("token_endpoint"),
        content=b"a=" + b"x" * (70 * 1024),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    expect_error(resp, 413, "invalid_request", "70 KiB body")
