"""Issuer class: plain checks of each endpoint and rule, then a stateful Hypothesis machine.

The suite acts as the agent and the tools of the target config (their client keys sign the
``private_key_jwt`` assertions; fresh DPoP keys are generated per token) and, in ``admin``
grant mode, creates its own active grants with the admin token so that it can revoke them
without touching anybody else's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

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
    expect_refused_exchange,
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
    response: httpx.Response | None = field(default=None, repr=False, compare=False)

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
        return Token(raw, header, claims, holder, key, grant_id, parent, response=resp)

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

    def grant_object(self, grant_id: str) -> dict[str, Any]:
        """The grant as its client (the agent) reads it through the grants API."""
        resp = self.client.get(
            self.grants_url(f"/{grant_id}"), headers=self.grants_auth(self.agent)
        )
        if resp.status_code != 200:
            raise Failed(f"GET own grant: HTTP {resp.status_code}", counterexample(resp))
        body = resp.json()
        if not isinstance(body, dict):
            raise Failed("the grant is not a JSON object", counterexample(resp))
        return body

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
        sl = token.claims["status"]["mcpa_grant_list"]
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
        if "ES256" not in algs or any(a not in jose.EMITTED_ALGS for a in algs):
            problems.append(
                f"{name} must list ES256 and nothing outside ES256/Ed25519 (never the "
                "deprecated EdDSA, RFC 9864)"
            )
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


def _max_age(resp: httpx.Response) -> int | None:
    m = re.search(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", resp.headers.get("cache-control", ""))
    return int(m.group(1)) if m else None


@check(
    "cache_lifetimes",
    "The JWK Set is cacheable for at most 300 s and the metadata for at most 86 400 s",
    ["MCPA-DSC-010"],
    severity="SHOULD",
)
def _cache_lifetimes(run: IssuerRun) -> None:
    for url, limit in (
        (run.url.rstrip("/") + "/.well-known/oauth-authorization-server", 86400),
        (run.endpoint("jwks_uri"), 300),
    ):
        resp = run.client.get(url)
        age = _max_age(resp)
        if age is None:
            raise Skipped(f"{url} has no max-age (see issuer.metadata_cacheable)")
        if age > limit:
            raise Failed(f"{url}: max-age {age} exceeds {limit} s", counterexample(resp))


@check(
    "jwks",
    "JWKS holds public keys only, with kid, alg and use, unique kids, an ES256 key",
    ["MCPA-DSC-003", "MCPA-TOK-023", "MCPA-TOK-003"],
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
        if k.get("alg") not in jose.EMITTED_ALGS:  # never the deprecated EdDSA (MCPA-TOK-023)
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
    "client_auth_audience",
    "A client assertion's aud is the issuer identifier alone (rfc7523bis): the token, "
    "revocation, introspection and grants endpoint URLs are refused at every endpoint",
    ["MCPA-CLA-011", "MCPA-CLA-005"],
)
def _assertion_audience(run: IssuerRun) -> None:
    issuer = run.metadata()["issuer"]
    a = run.agent
    urls = [run.endpoint(e) for e in ("token_endpoint", "revocation_endpoint")]
    urls += [run.endpoint("introspection_endpoint"), run.grants_url()]

    def token(aud: str | list[str]) -> httpx.Response:
        assertion = jose.client_assertion(a.key, a.client_id, aud)
        dpop = jose.Key.generate()
        headers = {"DPoP": jose.dpop_proof(dpop, "POST", run.endpoint("token_endpoint"))}
        params = _issue_params(run) + run.auth_params(a, assertion=assertion)
        return run.post_form("token_endpoint", params, headers)

    def form(endpoint: str) -> Callable[[str | list[str]], httpx.Response]:
        def send(aud: str | list[str]) -> httpx.Response:
            assertion = jose.client_assertion(a.key, a.client_id, aud)
            params = [
                ("token", "unknown-" + jose.random_id()),
                *run.auth_params(a, assertion=assertion),
            ]
            return run.post_form(endpoint, params)

        return send

    def grants(aud: str | list[str]) -> httpx.Response:
        assertion = jose.client_assertion(a.key, a.client_id, aud)
        return run.client.get(run.grants_url(), headers={"Authorization": f"Bearer {assertion}"})

    senders: list[tuple[str, Callable[[str | list[str]], httpx.Response]]] = [
        ("token endpoint", token),
        ("revocation endpoint", form("revocation_endpoint")),
        ("introspection endpoint", form("introspection_endpoint")),
        ("grants API", grants),
    ]
    for where, send in senders:
        for url in urls:
            expect_error(send(url), 401, "invalid_client", f"{where}: assertion aud {url!r}")
            expect_error(send([url]), 401, "invalid_client", f"{where}: assertion aud [{url!r}]")
        expect_error(
            send([issuer, urls[0]]), 401, "invalid_client", f"{where}: aud [issuer, token URL]"
        )
        for aud in (issuer, [issuer]):
            resp = send(aud)
            if resp.status_code != 200:
                raise Failed(
                    f"{where}: an assertion whose aud is {aud!r} (the issuer identifier) was "
                    f"refused: HTTP {resp.status_code} {oauth_error(resp)!r}",
                    counterexample(resp),
                )


@check(
    "client_auth_bad_assertion",
    "Bad client assertions are refused with 401 invalid_client",
    [
        "MCPA-CLA-011",
        "MCPA-CLA-004",
        "MCPA-CLA-005",
        "MCPA-CLA-007",
        "MCPA-CLA-008",
        "MCPA-CLA-009",
        "MCPA-CLA-010",
        "MCPA-CLA-012",
        "MCPA-SEC-007",
    ],
)
def _bad_assertion(run: IssuerRun) -> None:
    issuer = run.metadata()["issuer"]
    now = int(time.time())
    a = run.agent
    base = {"iss": a.client_id, "sub": a.client_id, "aud": issuer, "iat": now, "exp": now + 60}
    no_iat = {k: v for k, v in base.items() if k != "iat"}
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
        # No clock skew on the upper bound: 340 s after receipt is refused (MCPA-CLA-004).
        "no iat, exp 340 s after receipt": jose.sign_compact(
            hdr, {**no_iat, "exp": now + 340, "jti": jose.random_id()}, a.key
        ),
        "iat 10 minutes ahead": jose.sign_compact(
            hdr, {**base, "iat": now + 600, "jti": jose.random_id()}, a.key
        ),
        "nbf 10 minutes ahead": jose.sign_compact(
            hdr, {**base, "nbf": now + 600, "jti": jose.random_id()}, a.key
        ),
        "empty jti": jose.sign_compact(hdr, {**base, "jti": ""}, a.key),
        "jti of 257 characters": jose.sign_compact(hdr, {**base, "jti": "j" * 257}, a.key),
    }
    # Strict JWS handling (MCPA-SEC-007: parsing as MCPA-VER-006, the alg allow-list before
    # any key as MCPA-VER-008, the signature as MCPA-VER-012).
    for variant in ("None", "NONE", "nOnE"):
        cases[f"alg {variant}"] = (
            jose.b64u_json({"alg": variant})
            + "."
            + jose.b64u_json({**base, "jti": jose.random_id()})
            + "."
        )
    for mac_alg, digest in (("HS256", hashlib.sha256), ("HS512", hashlib.sha512)):
        cases[f"alg {mac_alg} keyed with the client's public JWK"] = _hmac_signed(
            {"alg": mac_alg, "kid": a.key.kid}, {**base, "jti": jose.random_id()}, a.key, digest
        )
    good = jose.sign_compact(hdr, {**base, "jti": jose.random_id()}, a.key)
    h64, c64, s64 = good.split(".")
    cases["signature with base64 padding"] = f"{h64}.{c64}.{s64}=="
    std = base64.b64encode(jose.b64u_decode(s64)).decode("ascii").rstrip("=")
    if std != s64:
        cases["signature in the standard base64 alphabet (+/)"] = f"{h64}.{c64}.{std}"
    cases["four segments"] = good + "." + s64
    cases["all-zero signature (ECDSA r = s = 0)"] = f"{h64}.{c64}." + jose.b64u(bytes(64))
    raw_sig = bytearray(jose.b64u_decode(s64))
    raw_sig[-1] ^= 1
    cases["signature bit flipped"] = f"{h64}.{c64}.{jose.b64u(bytes(raw_sig))}"
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


def _hmac_signed(header: dict[str, Any], claims: dict[str, Any], key: jose.Key, digest: Any) -> str:
    """A JWS MACed with the JSON text of ``key``'s public JWK as the secret (key confusion)."""
    signing_input = jose.b64u_json(header) + "." + jose.b64u_json(claims)
    secret = json.dumps(key.public_jwk(), separators=(",", ":")).encode()
    mac = hmac.new(secret, signing_input.encode("ascii"), digest).digest()
    return signing_input + "." + jose.b64u(mac)


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
        "an empty jti": jose.dpop_proof(key, "POST", ep, extra_claims={"jti": ""}),
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
    sl = c["status"].get("mcpa_grant_list")
    if (
        not isinstance(sl, dict)
        or not isinstance(sl.get("idx"), int)
        or not str(sl.get("uri", "")).startswith(run.metadata()["issuer"].rstrip("/") + "/")
    ):
        problems.append(
            "status.mcpa_grant_list must have an integer idx and a uri under the issuer"
        )
    hops = []
    node: Any = c["act"]
    while isinstance(node, dict):
        hops.append((node.get("actor_type"), node.get("sub"), node.get("mcpa_model")))
        node = node.get("act")
    inner = list(reversed(hops))
    # MCPA-TOK-022: one hop per holder, the agent (with the model it named) innermost, then
    # tools; MCPA-TOK-024: the outermost hop is the holder.
    expected_agent = ("agent", run.agent.client_id, run.config.agent.model)
    if not inner or inner[0] != expected_agent or any(t != "tool" for t, _, _ in inner[1:]):
        problems.append(f"chain {inner} is not the agent (with its mcpa_model), then tools")
    elif hops[0][1] != c["client_id"]:
        problems.append("the outermost hop is not the holder (client_id)")
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
        "MCPA-ISS-016",
        "MCPA-ISS-009",
        "MCPA-ISS-010",
        "MCPA-TOK-001",
        "MCPA-TOK-004",
        "MCPA-TOK-005",
        "MCPA-TOK-006",
        "MCPA-TOK-007",
        "MCPA-TOK-022",
        "MCPA-TOK-024",
        "MCPA-TOK-025",
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
    if tok.depth != 1:
        problems.append(f"depth {tok.depth}, not 1 (the agent, with its mcpa_model)")
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


def _depth_limit(run: IssuerRun, grant: str) -> int:
    """min(grant max_depth, mcpa_max_chain_depth), the grant read through the grants API."""
    depth = run.grant_object(grant).get("max_depth")
    return min(run.max_depth, depth) if isinstance(depth, int) else run.max_depth


def _token_family(run: IssuerRun) -> tuple[str, list[Token]]:
    """An issued token, one with a narrower scope, and two exchanges down the chain."""
    grant = run.grant()
    first = run.issue(grant)
    out = [first]
    if len(run.all_scopes()) > 1:
        out.append(run.issue(grant, scope=" ".join(run.all_scopes()[:1])))
    hop = run.exchange(first, run.tool(0), run.tool_resource(0))
    out.append(hop)
    if _depth_limit(run, grant) >= 3:
        out.append(run.exchange(hop, run.tool(0), run.final_resource()))
    return grant, out


def _segments_problems(raw: str) -> list[str]:
    """MCPA-TOK-014: JWS Compact Serialization, one signature, not encrypted/nested/unsecured."""
    parts = raw.split(".")
    if len(parts) != 3:
        return [f"{len(parts)} segments, not the 3 of a JWS compact serialization"]
    problems = []
    try:
        header = json.loads(jose.b64u_decode(parts[0]))
        payload = json.loads(jose.b64u_decode(parts[1]))
        sig = jose.b64u_decode(parts[2])
    except (jose.JoseError, ValueError, UnicodeDecodeError) as exc:
        return [f"a segment is not strict base64url JSON: {exc}"]
    if not isinstance(header, dict) or not isinstance(payload, dict):
        return ["header or payload is not a JSON object (nested or not a JWT)"]
    if str(header.get("alg", "")).lower() == "none" or not sig:
        problems.append("unsecured JWS (alg none or empty signature)")
    if "enc" in header or "zip" in header:
        problems.append("JWE header members (enc/zip): the token is encrypted")
    if str(header.get("cty", "")).upper() == "JWT":
        problems.append("cty JWT: a nested token")
    return problems


@check(
    "token_encoding",
    "Issued and exchanged tokens are compact JWS with one signature, never encrypted, nested "
    "or unsecured; iat, nbf and exp are integers and nbf is not after exp",
    ["MCPA-TOK-014", "MCPA-TOK-015"],
)
def _token_encoding(run: IssuerRun) -> None:
    _, tokens = _token_family(run)
    for tok in tokens:
        problems = _segments_problems(tok.raw)
        c = tok.claims
        for name in ("iat", "nbf", "exp"):
            if name not in c and name == "nbf":
                continue
            value = c.get(name)
            if not isinstance(value, int) or isinstance(value, bool):
                problems.append(f"{name} is {value!r}, not a JSON integer")
        # A JSON number with a fraction or exponent decodes as a float in Python; "1.0" too.
        payload = jose.b64u_decode(tok.raw.split(".")[1]).decode("utf-8", "replace")
        for name in ("iat", "nbf", "exp"):
            if re.search(rf'"{name}"\s*:\s*-?\d+[.eE]', payload):
                problems.append(f"{name} has a fraction or exponent")
        nbf, exp = c.get("nbf"), c.get("exp")
        if isinstance(nbf, int) and isinstance(exp, int) and nbf > exp:
            problems.append(f"nbf {nbf} is later than exp {exp}")
        if problems:
            raise Failed(
                f"token at depth {tok.depth}: " + "; ".join(problems), _token_cx(tok.response, tok)
            )


@check(
    "token_grant_fields",
    "Every token's scope is a non-empty list of distinct scope tokens of the grant, and its "
    "sub is the grant's sub, the same in every derived token",
    ["MCPA-TOK-012", "MCPA-TOK-016"],
)
def _token_grant_fields(run: IssuerRun) -> None:
    grant, tokens = _token_family(run)
    g = run.grant_object(grant)
    raw_scopes = g.get("scopes")
    grant_scopes: list[str] = (
        [str(x) for x in raw_scopes] if isinstance(raw_scopes, list) else run.all_scopes()
    )
    for tok in tokens:
        problems = []
        scope = tok.claims.get("scope")
        pieces = scope.split(" ") if isinstance(scope, str) else []
        if not isinstance(scope, str) or not scope:
            problems.append(f"scope is {scope!r}, not a non-empty string")
        elif "" in pieces:
            problems.append(f"scope {scope!r} is not single-space delimited")
        elif len(set(pieces)) != len(pieces):
            problems.append(f"scope {scope!r} repeats a scope token")
        outside = [p for p in pieces if p and p not in grant_scopes]
        if outside:
            problems.append(f"scope tokens {outside} are not in the grant's scopes")
        if tok.claims.get("sub") != g.get("sub"):
            problems.append(f"sub {tok.claims.get('sub')!r} is not the grant's {g.get('sub')!r}")
        if tok.claims.get("sub") != tokens[0].claims.get("sub"):
            problems.append("sub differs between tokens of the same grant")
        if problems:
            raise Failed(
                f"token at depth {tok.depth}: " + "; ".join(problems), _token_cx(tok.response, tok)
            )


_UUID = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
    r"[0-9a-fA-F]{12}$"
)


def jti_bits(jti: str) -> float:
    """An upper bound of the random bits a jti string can hold, from its length and alphabet."""
    if _UUID.match(jti):
        return 122.0  # a version 4 UUID has 122 random bits
    if re.fullmatch(r"[0-9a-fA-F]+", jti):
        return 4.0 * len(jti)
    if re.fullmatch(r"[A-Za-z0-9_\-+/=]+", jti):
        return 6.0 * len(jti.rstrip("="))
    if jti.isascii():
        return 6.6 * len(jti)  # log2(95) per printable character
    return 16.0 * len(jti)


@check(
    "token_jti",
    "Every jti can hold 128 random bits and no two tokens share one",
    ["MCPA-TOK-010"],
)
def _token_jti(run: IssuerRun) -> None:
    grant = run.grant()
    count = 8 if run.profile.name == "quick" else 20
    seen: dict[str, Token] = {}
    for _ in range(count):
        tok = run.issue(grant)
        jti = tok.claims.get("jti")
        if not isinstance(jti, str):
            raise Failed(f"jti is {jti!r}, not a string", _token_cx(tok.response, tok))
        if jti_bits(jti) < 128:
            raise Failed(
                f"jti {jti!r} cannot hold 128 random bits (at most {jti_bits(jti):.0f})",
                _token_cx(tok.response, tok),
            )
        if jti in seen:
            raise Failed(f"two tokens share the jti {jti!r}", _token_cx(tok.response, tok))
        seen[jti] = tok


@check(
    "token_hop_members",
    "Hops of the chain carry only actor_type, sub, mcpa_model and act",
    ["MCPA-TOK-020"],
    severity="SHOULD",
)
def _hop_members(run: IssuerRun) -> None:
    _, tokens = _token_family(run)
    for tok in tokens:
        node: Any = tok.claims.get("act")
        while isinstance(node, dict):
            extra = sorted(set(node) - {"actor_type", "sub", "mcpa_model", "act"})
            if extra:
                raise Failed(
                    f"token at depth {tok.depth}: hop {node.get('sub')!r} carries {extra}",
                    _token_cx(tok.response, tok),
                )
            node = node.get("act")


@check(
    "no_refresh_token",
    "Issuance and exchange responses never carry a refresh token",
    ["MCPA-ISS-015"],
)
def _no_refresh(run: IssuerRun) -> None:
    grant = run.grant()
    resp, key = run.issue_raw(grant, run.tool_resource(0))
    subject = run.accept_token(resp, run.agent, key, grant, parent=None, what="issuance")
    resp2, _ = run.exchange_raw(subject, run.tool(0), run.final_resource())
    for r, what in ((resp, "issuance"), (resp2, "exchange")):
        body = r.json() if r.status_code == 200 else {}
        if r.status_code != 200:
            raise Failed(f"{what} refused: HTTP {r.status_code}", counterexample(r))
        if isinstance(body, dict) and "refresh_token" in body:
            raise Failed(f"the {what} response carries a refresh_token", counterexample(r))


@check(
    "no_dpop_nonce",
    "The token endpoint never requires a DPoP nonce: no use_dpop_nonce, no DPoP-Nonce",
    ["MCPA-ISS-013"],
)
def _no_nonce(run: IssuerRun) -> None:
    grant = run.grant()
    ep = run.endpoint("token_endpoint")
    key = jose.Key.generate()
    responses = []
    ok, _ = run.issue_raw(grant, run.tool_resource(0), dpop=key)
    responses.append(ok)
    stale = jose.dpop_proof(key, "POST", ep, iat=int(time.time()) - 3600)
    responses.append(run.token_request(run.agent, _issue_params(run), key, proof=stale))
    responses.append(run.token_request(run.agent, _issue_params(run), None))
    for resp in responses:
        if oauth_error(resp) == "use_dpop_nonce" or "dpop-nonce" in resp.headers:
            raise Failed(
                "the token endpoint asks for a DPoP nonce (use_dpop_nonce or DPoP-Nonce)",
                counterexample(resp),
            )
    if ok.status_code != 200:
        raise Failed(
            f"issuance with a proof without nonce refused: HTTP {ok.status_code} "
            f"{oauth_error(ok)!r}",
            counterexample(ok),
        )
    subject = run.accept_token(ok, run.agent, key, grant, parent=None, what="issuance")
    resp, _ = run.exchange_raw(subject, run.tool(0), run.final_resource())
    if resp.status_code != 200 or "dpop-nonce" in resp.headers:
        raise Failed(
            "exchange with a proof without nonce refused or answered with DPoP-Nonce",
            counterexample(resp),
        )


@check(
    "check_order",
    "A request wrong in several ways gets the error of the first failing check of section "
    "4.3.2 and Table 4-1",
    ["MCPA-ISS-014"],
)
def _check_order(run: IssuerRun) -> None:
    grant = run.grant()
    r = run.tool_resource(0)
    model = run.config.agent.model
    bad_grant = "grt_does_not_exist_" + jose.random_id()
    bad_model = "model-not-in-grant-" + jose.random_id(4)
    bad_resource = "https://not-in-grant.example/api"
    bad_scope = "scope-not-in-grant:" + jose.random_id(4)
    stranger = jose.Key.generate()
    bad_assertion = jose.client_assertion(stranger, run.agent.client_id, run.metadata()["issuer"])

    def issue(gid: str, res: str, mdl: str, scope: str | None = None) -> list[tuple[str, str]]:
        p = [("grant_type", GT_GRANT), ("grant_id", gid), ("resource", res), ("actor_model", mdl)]
        return p + ([("scope", scope)] if scope is not None else [])

    def send(
        params: list[tuple[str, str]], *, dpop: bool = True, assertion: str | None = None
    ) -> httpx.Response:
        key = jose.Key.generate()
        headers = {"DPoP": jose.dpop_proof(key, "POST", run.endpoint("token_endpoint"))}
        return run.post_form(
            "token_endpoint",
            params + run.auth_params(run.agent, assertion=assertion),
            headers if dpop else {},
        )

    cases: list[tuple[str, httpx.Response, int, str]] = [
        (
            "repeated parameter (step 1) and a bad client assertion (step 2)",
            send([*issue(grant, r, model), ("resource", r)], assertion=bad_assertion),
            400,
            "invalid_request",
        ),
        (
            "bad client assertion (step 2) and an unsupported grant_type (step 3)",
            send([("grant_type", "password")], assertion=bad_assertion),
            401,
            "invalid_client",
        ),
        (
            "unsupported grant_type (step 3) and no DPoP proof (step 5)",
            send([("grant_type", "password")], dpop=False),
            400,
            "unsupported_grant_type",
        ),
        (
            "missing actor_model (step 4) and no DPoP proof (step 5)",
            send(issue(grant, r, model)[:3], dpop=False),
            400,
            "invalid_request",
        ),
        (
            "no DPoP proof (step 5) and an unknown grant (step 6)",
            send(issue(bad_grant, r, model), dpop=False),
            400,
            "invalid_dpop_proof",
        ),
        (
            "unknown grant (step 6), model, resource and scope outside the grant",
            send(issue(bad_grant, bad_resource, bad_model, bad_scope)),
            400,
            "invalid_grant",
        ),
        (
            "model (step 8), resource (step 9) and scope (step 10) outside the grant",
            send(issue(grant, bad_resource, bad_model, bad_scope)),
            400,
            "invalid_grant",
        ),
        (
            "resource (step 9) and scope (step 10) outside the grant",
            send(issue(grant, bad_resource, model, bad_scope)),
            400,
            "invalid_target",
        ),
    ]
    for label, resp, status, error in cases:
        expect_error(resp, status, error, label)


def _flip_case(value: str) -> str | None:
    flipped = value.swapcase()
    return flipped if flipped != value else None


@check(
    "case_sensitive",
    "Grant ids, resources, scopes, models and client ids are compared case-sensitively",
    ["MCPA-GEN-005"],
)
def _case_sensitive(run: IssuerRun) -> None:
    grant = run.grant()
    r = run.tool_resource(0)
    done = 0
    gid = _flip_case(grant)
    if gid is not None and gid != grant:
        resp, _ = run.issue_raw(gid, r)
        expect_error(resp, 400, "invalid_grant", f"grant_id {gid!r} (the grant's, case flipped)")
        done += 1
    res = _flip_case(r)
    if res is not None and res not in run.resources():
        resp, _ = run.issue_raw(grant, res)
        expect_error(resp, 400, "invalid_target", f"resource {res!r} (case flipped)")
        done += 1
    scopes = run.all_scopes()
    sc = _flip_case(scopes[0]) if scopes else None
    if sc is not None and sc not in scopes:
        resp, _ = run.issue_raw(grant, r, scope=sc)
        expect_error(resp, 400, "invalid_scope", f"scope {sc!r} (case flipped)")
        done += 1
    models = run.config.grants.models or [run.config.agent.model]
    mdl = _flip_case(run.config.agent.model)
    if mdl is not None and mdl not in models:
        resp, _ = run.issue_raw(grant, r, model=mdl)
        expect_error(resp, 400, "invalid_grant", f"actor_model {mdl!r} (case flipped)")
        done += 1
    cid = _flip_case(run.agent.client_id)
    known = {run.agent.client_id, *(t.client_id for t in run.tools)}
    if cid is not None and cid not in known:
        assertion = jose.client_assertion(run.agent.key, cid, run.metadata()["issuer"])
        params = _issue_params(run) + run.auth_params(run.agent, assertion=assertion)
        resp = run.post_form(
            "token_endpoint",
            params,
            {"DPoP": jose.dpop_proof(jose.Key.generate(), "POST", run.endpoint("token_endpoint"))},
        )
        expect_error(resp, 401, "invalid_client", f"client assertion for client {cid!r}")
        done += 1
    if not done:
        raise Skipped("no identifier of the configuration has letters to flip the case of")


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
    expect_refused_exchange(
        resp, "not_audience", "the agent (not the audience) exchanging its token"
    )
    hop = run.exchange(subject, run.tool(0), run.final_resource())
    resp, _ = run.exchange_raw(hop, run.tool(0), run.final_resource())
    if run.final_resource() != run.tool_resource(0):
        expect_refused_exchange(
            resp, "not_audience", "a tool exchanging a token whose aud is another resource"
        )
    if len(run.tools) > 1:
        resp, _ = run.exchange_raw(subject, run.tool(1), run.tool_resource(1))
        expect_refused_exchange(
            resp, "not_audience", "a second tool exchanging the first tool's token"
        )


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
    # At issuance the two parameters mean nothing and are ignored (MCPA-GEN-004, 4.1).
    extra = [("actor_token", subject.raw), ("actor_token_type", TT_ACCESS)]
    resp = run.token_request(run.agent, [*_issue_params(run), *extra], jose.Key.generate())
    if resp.status_code != 200:
        raise Failed(
            f"issuance with actor_token: HTTP {resp.status_code} {oauth_error(resp)!r}, not 200 "
            "(actor_token is refused in an exchange only; an issuance ignores it)",
            counterexample(resp),
        )


@check(
    "exchange_bad_subject",
    "A tampered or foreign subject token is refused: invalid_request, subject_token_invalid",
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
    expect_refused_exchange(
        resp,
        "subject_token_invalid",
        "subject token with a flipped signature bit",
        token=tampered.raw,
    )
    forged_raw = jose.sign_compact(
        subject.header, subject.claims, jose.Key.generate("ES256", str(subject.header.get("kid")))
    )
    forged = Token(
        forged_raw, subject.header, subject.claims, subject.holder, subject.dpop, subject.grant_id
    )
    resp, _ = run.exchange_raw(forged, run.tool(0), run.final_resource())
    expect_refused_exchange(
        resp, "subject_token_invalid", "subject token signed by another key", token=forged_raw
    )


@check(
    "exchange_tool_model",
    "A tool that names its own model at exchange gets it as its hop's mcpa_model; a model "
    "outside the grant is refused (invalid_request, model_not_allowed)",
    ["MCPA-XCH-016", "MCPA-XCH-015", "MCPA-TOK-025"],
)
def _xch_tool_model(run: IssuerRun) -> None:
    grant = run.grant()
    subject = run.issue(grant)
    model = run.config.agent.model
    extra = [("actor_model", model)]
    resp, key = run.exchange_raw(subject, run.tool(0), run.final_resource(), extra=extra)
    new = run.accept_token(
        resp, run.tool(0), key, grant, parent=subject, what="exchange naming actor_model"
    )
    hop = new.claims.get("act", {})
    if hop.get("mcpa_model") != model or hop.get("act") != subject.claims.get("act"):
        raise Failed(
            f"the tool's hop is {hop!r}: expected mcpa_model {model!r} over the subject's chain",
            counterexample(resp, token=new.raw),
        )
    plain = run.exchange(run.issue(grant), run.tool(0), run.final_resource())
    if "mcpa_model" in plain.claims.get("act", {}):
        raise Failed("a tool hop carries mcpa_model although the tool named none")
    bad = [("actor_model", "model-not-in-grant-" + jose.random_id(4))]
    resp, _ = run.exchange_raw(run.issue(grant), run.tool(0), run.final_resource(), extra=bad)
    expect_refused_exchange(resp, "model_not_allowed", "exchange naming a model outside the grant")


@check(
    "exchange_tool_not_in_grant", "A tool not listed in the grant cannot exchange", ["MCPA-XCH-004"]
)
def _xch_tool(run: IssuerRun) -> None:
    grant = run.create_grant(tools=["tool-not-registered-" + jose.random_id(4)])
    subject = run.issue(grant)
    resp, _ = run.exchange_raw(subject, run.tool(0), run.final_resource())
    expect_refused_exchange(
        resp, "tool_not_allowed", "exchange by a tool outside the grant's tools"
    )


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
    ["MCPA-XCH-007", "MCPA-GRT-009", "MCPA-TOK-019"],
)
def _xch_depth(run: IssuerRun) -> None:
    # The shared grant's limit is min(its max_depth, mcpa_max_chain_depth) (MCPA-TOK-019):
    # the issuer maximum for a grant the suite created, possibly less for an existing one.
    limits: list[tuple[str, int]] = [("issuer maximum", run.max_depth)]
    if run.admin:
        limits.insert(0, ("grant max_depth 3", 3))
    else:
        limits = [("min(grant max_depth, issuer maximum)", _depth_limit(run, run.grant()))]
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
        expect_refused_exchange(
            resp, "depth_exceeded", f"exchange to depth {limit + 1} ({label})", token=tok.raw
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
    "descendants (direct and transitive) inactive and un-exchangeable; others cannot revoke it",
    ["MCPA-REV-005", "MCPA-REV-004", "MCPA-XCH-013"],
)
def _token_revocation(run: IssuerRun) -> None:
    grant = run.grant()
    subject = run.issue(grant)
    child = run.exchange(subject, run.tool(0), run.tool_resource(0))
    # A grandchild (depth 3) when the limits allow it: revocation cascades transitively.
    limit = _depth_limit(run, grant)
    grandchild = run.exchange(child, run.tool(0), run.tool_resource(0)) if limit >= 3 else None
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
    expect_refused_exchange(r2, "subject_token_revoked", "exchange of a revoked token")
    r3, _ = run.exchange_raw(child, run.tool(0), run.final_resource())
    expect_refused_exchange(
        r3, "subject_token_revoked", "exchange of a descendant of a revoked token"
    )
    if grandchild is not None:
        if run.introspect(run.tool(0), grandchild.raw).get("active") is not False:
            raise Failed(
                "a token exchanged from a token exchanged from a revoked token is still active"
            )
        r5, _ = run.exchange_raw(grandchild, run.tool(0), run.final_resource())
        expect_refused_exchange(
            r5, "subject_token_revoked", "exchange of a transitive descendant of a revoked token"
        )
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
    uri = a.claims["status"]["mcpa_grant_list"]["uri"]
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
        if status_bit(data, a.claims["status"]["mcpa_grant_list"]["idx"]) != 0:
            problems.append("the bit of an active grant is set")
    except (jose.JoseError, ValueError, IndexError, TypeError) as exc:
        problems.append(f"lst does not decode: {exc}")
    if problems:
        raise Failed("; ".join(problems), counterexample(resp))


def loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def url_problem(url: Any) -> str | None:
    """MCPA-GEN-001: https, or http on a loopback host; None when the URL is fine."""
    if not isinstance(url, str):
        return f"{url!r} is not a URL string"
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname and loopback_host(parts.hostname):
        return None
    return f"{url!r} is neither https nor http on a loopback host"


@check(
    "status_uri",
    "A token's status list URI is the issuer identifier plus one path, without query, "
    "fragment or dot segment, and answers GET without authentication with the list token",
    ["MCPA-TOK-017", "MCPA-REV-011"],
)
def _status_uri(run: IssuerRun) -> None:
    tok = run.issue(run.grant())
    sl = tok.claims.get("status", {}).get("mcpa_grant_list", {})
    uri = sl.get("uri") if isinstance(sl, dict) else None
    issuer = str(run.metadata()["issuer"])
    prefix = issuer if issuer.endswith("/") else issuer + "/"
    problems = []
    if not isinstance(uri, str):
        raise Failed(f"status.mcpa_grant_list.uri is {uri!r}", _token_cx(tok.response, tok))
    bad_scheme = url_problem(uri)
    if bad_scheme:
        problems.append(bad_scheme)
    if not uri.startswith(prefix) or len(uri) == len(prefix):
        problems.append(f"{uri!r} does not start with the issuer identifier followed by '/'")
    parts = urlsplit(uri)
    if parts.query or parts.fragment or "?" in uri or "#" in uri:
        problems.append(f"{uri!r} has a query or fragment")
    if any(seg in (".", "..") for seg in parts.path.split("/")):
        problems.append(f"{uri!r} has a dot segment")
    if problems:
        raise Failed("; ".join(problems), _token_cx(tok.response, tok))
    resp = run.client.get(uri)  # no credentials of any kind
    if resp.status_code != 200:
        raise Failed(f"unauthenticated GET {uri}: HTTP {resp.status_code}", counterexample(resp))
    if resp.headers.get("content-type", "").split(";")[0].strip() != "application/statuslist+jwt":
        problems.append(f"Content-Type is {resp.headers.get('content-type')!r}")
    try:
        _, claims = jose.verify_with_jwks(resp.text.strip(), run.jwks())
    except jose.JoseError as exc:
        raise Failed(
            f"the body is not a list token of the issuer: {exc}", counterexample(resp)
        ) from None
    if claims.get("sub") != uri:
        problems.append("the list token's sub is not the URI it was fetched from")
    if problems:
        raise Failed("; ".join(problems), counterexample(resp))


@check(
    "urls_https",
    "Every URL in the metadata, in tokens and in grant objects is https (or http on loopback)",
    ["MCPA-GEN-001"],
)
def _urls_https(run: IssuerRun) -> None:
    md_resp = run.client.get(run.url.rstrip("/") + "/.well-known/oauth-authorization-server")
    md = run.metadata()
    problems = []
    for name in (
        "issuer",
        "token_endpoint",
        "jwks_uri",
        "revocation_endpoint",
        "introspection_endpoint",
        "mcpa_grants_endpoint",
        "mcpa_consent_endpoint",
    ):
        if name in md:
            p = url_problem(md[name])
            if p:
                problems.append(f"metadata {name}: {p}")
    if problems:
        raise Failed("; ".join(problems), counterexample(md_resp))
    grant = run.grant()
    tok = run.issue(grant)
    hop = run.exchange(tok, run.tool(0), run.final_resource())
    for t in (tok, hop):
        c = t.claims
        sl = c.get("status", {}).get("mcpa_grant_list", {})
        for name, value in (
            ("iss", c.get("iss")),
            ("aud", c.get("aud")),
            ("status uri", sl.get("uri")),
        ):
            p = url_problem(value)
            if p:
                raise Failed(f"token claim {name}: {p}", _token_cx(t.response, t))
    resp = run.client.get(run.grants_url(f"/{grant}"), headers=run.grants_auth(run.agent))
    g = resp.json() if resp.status_code == 200 else {}
    values: list[tuple[str, Any]] = [
        (f"resources[{i}]", r) for i, r in enumerate(g.get("resources") or [])
    ]
    sl = g.get("status_list")
    if isinstance(sl, dict):
        values.append(("status_list.uri", sl.get("uri")))
    if g.get("approval_uri") is not None:
        values.append(("approval_uri", g.get("approval_uri")))
    for name, value in values:
        p = url_problem(value)
        if p:
            raise Failed(f"grant {name}: {p}", counterexample(resp))


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
    expect_refused_exchange(resp, "grant_revoked", "exchange under a revoked grant")
    resp, _ = _deepen(run, b)
    expect_refused_exchange(
        resp, "grant_revoked", "exchange of a derived token under a revoked grant"
    )
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
    "token_revocation_expired_audited",
    "Revoking an already expired token by its holder is a revocation: 200 and one "
    "token.revoked event in the grant's events",
    ["MCPA-AUD-001", "MCPA-REV-005"],
)
def _revocation_expired(run: IssuerRun) -> None:
    grant = run.create_grant(max_token_lifetime=1)
    tok = run.issue(grant)
    deadline = time.monotonic() + 5
    while time.time() < int(tok.claims["exp"]) + 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    resp = run.revoke_token(run.agent, tok.raw)
    if resp.status_code != 200:
        raise Failed(
            f"revocation of an expired token: HTTP {resp.status_code}", counterexample(resp)
        )
    events = run.client.get(run.grants_url(f"/{grant}/events"), headers=run.grants_auth(run.agent))
    body = events.json() if events.status_code == 200 else {}
    listed = body.get("events") if isinstance(body, dict) else None
    revoked = [
        e
        for e in listed or []
        if isinstance(e, dict)
        and e.get("type") == "token.revoked"
        and e.get("token_jti") == tok.claims["jti"]
    ]
    if len(revoked) != 1:
        raise Failed(
            f"{len(revoked)} token.revoked events for the expired token, not 1 (Audit 7.1)",
            counterexample(events),
        )


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
    g = run.config.grants
    body = {
        "sub": g.user or "alice",
        "resources": run.resources(),
        "scopes": list(g.scopes),
        "tools": [t.client_id for t in run.tools],
        "models": list(g.models or [run.config.agent.model]),
        "purpose": "",
    }
    resp = run.client.post(run.grants_url(), json=body, headers=run.grants_auth(run.agent))
    expect_error(resp, 400, "invalid_request", "grant creation with an empty purpose")


@check(
    "grant_admin_create",
    "A grant created with the admin token is active at once (201), and stores the metadata "
    "maxima when max_depth and max_token_lifetime are absent and expires_at = created_at + "
    "expires_in",
    ["MCPA-GRT-011", "MCPA-GRT-020"],
)
def _grant_admin_create(run: IssuerRun) -> None:
    if not run.admin:
        raise Skipped("grants mode is 'existing': the suite cannot create grants")
    g = run.config.grants
    body: dict[str, Any] = {
        "sub": g.user,
        "client_id": run.agent.client_id,
        "resources": run.resources(),
        "scopes": list(g.scopes),
        "tools": [t.client_id for t in run.tools],
        "models": list(g.models or [run.config.agent.model]),
        "purpose": "MCP-Auth conformance suite: defaults",
        "expires_in": 600,
    }
    resp = run.client.post(run.grants_url(), json=body, headers=run.grants_auth(None))
    if resp.status_code != 201:
        raise Failed(
            f"admin grant creation: HTTP {resp.status_code} {oauth_error(resp)!r}",
            counterexample(resp, body=body),
        )
    grant = resp.json()
    md = run.metadata()
    problems = []
    if not isinstance(grant, dict) or not grant.get("grant_id"):
        raise Failed("the 201 answer is not the grant", counterexample(resp, body=body))
    if grant.get("status") != "active":
        problems.append(f"status is {grant.get('status')!r}, not active")
    depth = md.get("mcpa_max_chain_depth", 5)
    if grant.get("max_depth") != depth:
        problems.append(
            f"max_depth is {grant.get('max_depth')!r}, not mcpa_max_chain_depth {depth}"
        )
    lifetime = md.get("mcpa_max_token_lifetime", 300)
    if grant.get("max_token_lifetime") != lifetime:
        problems.append(
            f"max_token_lifetime is {grant.get('max_token_lifetime')!r}, not "
            f"mcpa_max_token_lifetime {lifetime}"
        )
    created, expires = grant.get("created_at"), grant.get("expires_at")
    if not isinstance(created, int) or not isinstance(expires, int) or expires - created != 600:
        problems.append(f"expires_at {expires!r} is not created_at {created!r} + 600")
    if problems:
        raise Failed("; ".join(problems), counterexample(resp, body=body))


@check(
    "grant_create_non_agent",
    "A grant creation by a client that is not an agent is refused with 403 access_denied",
    ["MCPA-GRT-015"],
)
def _grant_non_agent(run: IssuerRun) -> None:
    g = run.config.grants
    body = {
        "sub": g.user or "alice",
        "resources": [run.tool_resource(0)],
        "scopes": list(g.scopes or ["data:read"])[:1],
        "tools": [run.tool(0).client_id],
        "models": [run.config.agent.model],
        "purpose": "conformance: a tool must not create grants",
    }
    resp = run.client.post(run.grants_url(), json=body, headers=run.grants_auth(run.tool(0)))
    expect_error(resp, 403, "access_denied", "a tool client creating a grant")


@check(
    "grants_no_store",
    "Every response of the grants API carries Cache-Control: no-store",
    ["MCPA-GRT-016"],
)
def _grants_no_store(run: IssuerRun) -> None:
    grant = run.grant()
    samples: list[tuple[str, httpx.Response]] = [
        ("GET /grants", run.client.get(run.grants_url(), headers=run.grants_auth(run.agent))),
        (
            "GET /grants/{id}",
            run.client.get(run.grants_url(f"/{grant}"), headers=run.grants_auth(run.agent)),
        ),
        (
            "GET /grants/{id}/events",
            run.client.get(run.grants_url(f"/{grant}/events"), headers=run.grants_auth(run.agent)),
        ),
        (
            "GET another client's grant (404)",
            run.client.get(run.grants_url(f"/{grant}"), headers=run.grants_auth(run.tool(0))),
        ),
        ("GET /grants without credentials (401)", run.client.get(run.grants_url())),
        (
            "GET /grants with an invalid status (400)",
            run.client.get(
                run.grants_url(), params={"status": "bogus"}, headers=run.grants_auth(run.agent)
            ),
        ),
    ]
    if run.admin:
        created = run.create_grant()
        samples.append(
            (
                "DELETE /grants/{id}",
                run.client.delete(
                    run.grants_url(f"/{created}"), headers=run.grants_auth(run.agent)
                ),
            )
        )
        run.revoked_grants.add(created)
        body = {**_pending_body(run), "purpose": "conformance no-store check"}
        samples.append(
            (
                "POST /grants (admin)",
                run.client.post(run.grants_url(), json=body, headers=run.grants_auth(None)),
            )
        )
    for label, resp in samples:
        if "no-store" not in resp.headers.get("cache-control", ""):
            raise Failed(
                f"{label}: HTTP {resp.status_code} without Cache-Control: no-store",
                counterexample(resp),
            )


def _pending_body(run: IssuerRun) -> dict[str, Any]:
    g = run.config.grants
    return {
        "sub": g.user or "alice",
        "client_id": run.agent.client_id,
        "resources": [run.tool_resource(0)],
        "scopes": list(g.scopes or ["data:read"])[:1],
        "tools": [run.tool(0).client_id],
        "models": [run.config.agent.model],
    }


@check(
    "grant_list_query",
    "A grant list request with an unknown or repeated status, a repeated or unknown query "
    "parameter is refused with invalid_request",
    ["MCPA-GRT-022"],
)
def _grant_list_query(run: IssuerRun) -> None:
    base = run.grants_url()
    ok = run.client.get(base, params={"status": "active"}, headers=run.grants_auth(run.agent))
    if ok.status_code != 200:
        raise Failed(f"GET /grants?status=active: HTTP {ok.status_code}", counterexample(ok))
    for label, params in (
        ("status=bogus", [("status", "bogus")]),
        ("status=Active (not a status: case-sensitive)", [("status", "Active")]),
        ("status repeated", [("status", "active"), ("status", "active")]),
        ("status repeated with two values", [("status", "active"), ("status", "pending")]),
        ("unknown parameter", [("colour", "blue")]),
        ("sub repeated", [("sub", "a"), ("sub", "a")]),
        ("status= (an empty query value is not an omitted one)", [("status", "")]),
    ):
        resp = run.client.get(base + "?" + urlencode(params), headers=run.grants_auth(run.agent))
        expect_error(resp, 400, "invalid_request", f"GET /grants with {label}")
    # Query parameters are defined only for the list: elsewhere they are ignored (2.3).
    one = run.grants_url(f"/{run.grant()}?colour=blue")
    resp = run.client.get(one, headers=run.grants_auth(run.agent))
    if resp.status_code != 200:
        raise Failed(
            f"GET /grants/{{grant_id}}?colour=blue: HTTP {resp.status_code}, not 200 (query "
            "parameters are defined only for the list and are ignored elsewhere)",
            counterexample(resp),
        )


@check(
    "grants_unauthenticated",
    "A 401 of the grants API carries WWW-Authenticate with the Bearer scheme and invalid_client",
    ["MCPA-GRT-024"],
)
def _grants_401(run: IssuerRun) -> None:
    stranger = jose.Key.generate()
    forged = jose.client_assertion(stranger, run.agent.client_id, run.metadata()["issuer"])
    for label, headers in (
        ("no credentials", {}),
        ("an assertion signed by an unregistered key", {"Authorization": f"Bearer {forged}"}),
        (
            "an unknown admin token",
            {"Authorization": "Bearer not-the-admin-token-" + jose.random_id()},
        ),
    ):
        resp = run.client.get(run.grants_url(), headers=headers)
        expect_error(resp, 401, "invalid_client", f"GET /grants with {label}")
        scheme = resp.headers.get("www-authenticate", "").strip().split(" ")[0].split(",")[0]
        if scheme.lower() != "bearer":
            raise Failed(
                f"GET /grants with {label}: 401 without a WWW-Authenticate Bearer challenge",
                counterexample(resp),
            )
        if re.search(r"\berror\s*=", resp.headers.get("www-authenticate", "")):
            raise Failed(
                f"GET /grants with {label}: the Bearer challenge carries an error parameter "
                "(RFC 6750 has no invalid_client; the error belongs in the body only)",
                counterexample(resp),
            )


def frame_protection(resp: httpx.Response) -> bool:
    """True if the response forbids framing by other origins (CSP or X-Frame-Options)."""
    for csp in resp.headers.get_list("content-security-policy"):
        for directive in csp.split(";"):
            words = directive.split()
            if words and words[0].lower() == "frame-ancestors":
                sources = [w.lower() for w in words[1:]]
                if sources and all(s in ("'none'", "'self'") for s in sources):
                    return True
    xfo = resp.headers.get("x-frame-options", "").strip().upper()
    return xfo in ("DENY", "SAMEORIGIN")


@check(
    "consent_frame_protection",
    "The consent page forbids framing by other origins (CSP frame-ancestors or X-Frame-Options)",
    ["MCPA-GRT-018"],
)
def _consent_frames(run: IssuerRun) -> None:
    consent = run.metadata().get("mcpa_consent_endpoint")
    if not isinstance(consent, str) or not consent:
        raise Skipped("the metadata advertises no mcpa_consent_endpoint")
    urls = [consent]
    if run.config.grants.user:
        body = {**_pending_body(run), "purpose": "conformance consent page check"}
        body.pop("client_id")
        created = run.client.post(run.grants_url(), json=body, headers=run.grants_auth(run.agent))
        if created.status_code == 201 and isinstance(created.json().get("approval_uri"), str):
            urls.insert(0, created.json()["approval_uri"])
    origin = urlsplit(consent)[:2]
    seen = 0
    for url in urls:
        resp = run.client.get(url)
        hops = 0
        while resp.is_redirect and hops < 5:
            nxt = resp.next_request
            if nxt is None or (nxt.url.scheme, nxt.url.netloc.decode()) != origin:
                break
            resp = run.client.send(nxt)
            hops += 1
        if resp.status_code != 200 or "html" not in resp.headers.get("content-type", ""):
            continue
        seen += 1
        if not frame_protection(resp):
            raise Failed(
                f"the consent page {url} can be framed: no CSP frame-ancestors 'none'/'self' "
                "and no X-Frame-Options DENY/SAMEORIGIN",
                counterexample(resp),
            )
    if not seen:
        raise Skipped("the consent endpoint served no HTML page to an unauthenticated GET")


def event_hash(event: dict[str, Any]) -> str:
    body = {k: v for k, v in event.items() if k != "hash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@check(
    "grant_events",
    "The grant's audit events list issuance and exchange with the chain, "
    "hash correctly, and never contain tokens",
    [
        "MCPA-GRT-012",
        "MCPA-AUD-001",
        "MCPA-AUD-002",
        "MCPA-AUD-003",
        "MCPA-AUD-005",
        "MCPA-AUD-006",
    ],
)
def _events(run: IssuerRun) -> None:
    grant = run.grant()
    a = run.issue(grant)
    b = run.exchange(a, run.tool(0), run.final_resource())
    # A refusal for a malformed scope ("x  y" is invalid_scope, found after the parameters
    # were read): its token.refused event must still pass the event schema (section 7.2).
    scopes = run.config.grants.scopes or ["x", "y"]
    bad_scope = "  ".join(list(scopes)[:2] if len(scopes) > 1 else [scopes[0], scopes[0]])
    run.token_request(run.agent, [*_issue_params(run), ("scope", bad_scope)], jose.Key.generate())
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
    # The grant's events are shown to its client only (MCPA-AUD-005), as for the grant itself.
    other = run.client.get(run.grants_url(f"/{grant}/events"), headers=run.grants_auth(run.tool(0)))
    if other.status_code < 400:
        raise Failed(
            f"another client (a tool) read the grant's events: HTTP {other.status_code}",
            counterexample(other),
        )


def _actor_problems(
    events: list[Any], expected: list[tuple[str, str, str | None, str | None]]
) -> list[str]:
    """Each (event type, actor type, actor id, token jti) must match the event of that type
    (the one naming that ``token_jti`` when given, else the first); an actor id of None is
    not checked."""
    problems = []
    for event_type, actor_type, actor_id, jti in expected:
        found = [
            e
            for e in events
            if isinstance(e, dict)
            and e.get("type") == event_type
            and (jti is None or e.get("token_jti") == jti)
        ]
        if not found:
            problems.append(f"no {event_type} event" + (f" for jti {jti}" if jti else ""))
            continue
        actor = found[0].get("actor")
        if not isinstance(actor, dict):
            problems.append(f"{event_type} has no actor")
        elif actor.get("type") != actor_type or (
            actor_id is not None and actor.get("id") != actor_id
        ):
            want = actor_type if actor_id is None else f"{actor_type} {actor_id!r}"
            problems.append(f"{event_type} names actor {actor!r}, expected {want}")
    return problems


def _grant_events(run: IssuerRun, grant: str) -> list[Any]:
    resp = run.client.get(run.grants_url(f"/{grant}/events"), headers=run.grants_auth(run.agent))
    if resp.status_code != 200:
        raise Failed(f"GET events: HTTP {resp.status_code}", counterexample(resp))
    body = resp.json()
    events = body.get("events") if isinstance(body, dict) else None
    if not isinstance(events, list):
        raise Failed("events response has no list of events", counterexample(resp))
    return events


@check(
    "event_actors",
    "Audit events name who caused them: the client for its tokens, grant requests and "
    "revocations, the administrator for admin provisioning",
    ["MCPA-AUD-011"],
)
def _event_actors(run: IssuerRun) -> None:
    agent, tool = run.agent.client_id, run.tool(0).client_id
    # Without admin provisioning, the shared grant shows the token events only.
    grant = run.create_grant() if run.admin else run.grant()
    first = run.issue(grant)
    second = run.exchange(first, run.tool(0), run.final_resource())
    expected: list[tuple[str, str, str | None, str | None]] = [
        ("token.issued", "client", agent, first.claims["jti"]),
        ("token.exchanged", "client", tool, second.claims["jti"]),
    ]
    if run.admin:
        revoked = run.revoke_grant(grant)
        if revoked.status_code >= 400:
            raise Failed(f"DELETE own grant: HTTP {revoked.status_code}", counterexample(revoked))
        expected += [
            ("grant.created", "admin", None, None),
            ("grant.approved", "admin", None, None),
            ("grant.revoked", "client", agent, None),
        ]
    problems = _actor_problems(_grant_events(run, grant), expected)
    body = {**_pending_body(run), "purpose": "conformance actor check"}
    created = run.client.post(run.grants_url(), json=body, headers=run.grants_auth(run.agent))
    if created.status_code == 201 and isinstance(created.json(), dict):
        pending = str(created.json().get("grant_id"))
        problems += _actor_problems(
            _grant_events(run, pending), [("grant.created", "client", agent, None)]
        )
    if problems:
        raise Failed("; ".join(problems))


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
    # HEAD is served wherever GET is (RFC 9110 section 9.3.2): same status, no content.
    head = run.client.head(run.url.rstrip("/") + "/.well-known/oauth-authorization-server")
    if head.status_code != 200 or head.content:
        raise Failed(
            f"HEAD on the metadata: HTTP {head.status_code} with {len(head.content)} bytes, "
            "not 200 without content",
            counterexample(head),
        )
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
    "body_limit",
    "A request body over 64 KiB is refused with 413 invalid_request; a method the endpoint "
    "does not serve is 405 first",
    ["MCPA-GEN-003", "MCPA-GEN-002"],
)
def _body_limit(run: IssuerRun) -> None:
    resp = run.client.post(
        run.endpoint("token_endpoint"),
        content=b"a=" + b"x" * (70 * 1024),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    expect_error(resp, 413, "invalid_request", "70 KiB body")
    resp = run.client.put(
        run.grants_url(), content=b"{}" + b" " * (70 * 1024), headers=run.grants_auth(run.agent)
    )
    expect_error(resp, 405, "invalid_request", "PUT /grants with a 70 KiB body (method first)")
