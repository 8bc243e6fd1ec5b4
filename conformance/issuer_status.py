"""Issuer class: status list allocation, list URIs, serving and caching (spec 6.2.1, 6.2.2),
and grant quotas (spec 2.3.1). Registered in the Issuer registry of ``issuer.py``.

What a run can observe: pending grants carry no entry; distinct grants get distinct
``(uri, idx)`` entries; list ids are long random base64url strings (never ``1``); a list's
size; an unknown list is a 404 ``not_found``; a served list token is at most a second
old, cacheable for no longer than it stays usable, with an ``ETag``; and, when the target
config sets ``grants.quota_probe``, the ``quota_exceeded`` error of a full quota.
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from mcp_auth import schemas
from mcp_auth.conformance import jose
from mcp_auth.conformance.framework import Failed, Skipped, counterexample, oauth_error
from mcp_auth.conformance.issuer import IssuerRun, Token, check
from mcp_auth.conformance.suite_issuer import decode_status_list

LIST_ID = re.compile(r"[A-Za-z0-9_-]{22,64}")  # >= 128 bits of base64url (MCPA-REV-016)
MAX_LIST_BITS = 1 << 20
HERD_BITS = 1 << 17
CLOCK_TOLERANCE = 5  # seconds between the suite's clock and the issuer's
QUOTAS = ("pending_per_client", "pending_per_user", "live_per_client")


def _entry(tok: Token) -> tuple[str, int]:
    sl = tok.claims.get("status", {}).get("mcpa_grant_list", {})
    if not isinstance(sl, dict) or not isinstance(sl.get("uri"), str):
        raise Failed("the token has no status.mcpa_grant_list.uri")
    return str(sl["uri"]), int(sl.get("idx", -1))


def _list_token(run: IssuerRun, uri: str) -> tuple[httpx.Response, dict[str, Any]]:
    resp = run.client.get(uri)
    if resp.status_code != 200:
        raise Failed(f"GET {uri}: HTTP {resp.status_code}", counterexample(resp))
    try:
        _, claims = jose.verify_with_jwks(resp.text.strip(), run.jwks())
    except jose.JoseError as exc:
        raise Failed(f"the list token does not verify: {exc}", counterexample(resp)) from None
    return resp, claims


def _pending_body(run: IssuerRun, sub: str) -> dict[str, Any]:
    g = run.config.grants
    return {
        "sub": sub,
        "resources": [run.tool_resource(0)],
        "scopes": list(g.scopes or ["data:read"])[:1],
        "tools": [run.tool(0).client_id],
        "models": [run.config.agent.model],
        "purpose": "MCP-Auth conformance suite: quota and status checks",
    }


def _withdraw(run: IssuerRun, grant_ids: list[str]) -> None:
    for grant_id in grant_ids:
        run.revoke_grant(grant_id)


@check(
    "status_entry_at_approval",
    "A pending grant carries no status list entry; an active grant carries one, and its "
    "tokens carry the same",
    ["MCPA-REV-003", "MCPA-GRT-001"],
)
def _entry_at_approval(run: IssuerRun) -> None:
    user = run.config.grants.user
    if not user:
        raise Skipped("no grants.user in the target config")
    body = _pending_body(run, user)
    resp = run.client.post(run.grants_url(), json=body, headers=run.grants_auth(run.agent))
    if resp.status_code != 201:
        raise Failed(
            f"client grant creation: HTTP {resp.status_code} {oauth_error(resp)!r}",
            counterexample(resp, body=body),
        )
    pending = resp.json()
    try:
        if "status_list" in pending:
            raise Failed(
                "a pending grant carries a status_list entry: entries are assigned on "
                "approval (MCPA-REV-003)",
                counterexample(resp, body=body),
            )
        again = run.grant_object(str(pending["grant_id"]))
        if "status_list" in again:
            raise Failed("a pending grant read back carries a status_list entry")
    finally:
        _withdraw(run, [str(pending["grant_id"])])
    grant = run.grant()
    active = run.grant_object(grant)
    sl = active.get("status_list")
    if not isinstance(sl, dict):
        raise Failed("an active grant has no status_list entry")
    tok = run.issue(grant)
    if _entry(tok) != (sl.get("uri"), sl.get("idx")):
        raise Failed("the token's status entry differs from its grant's status_list")


@check(
    "status_entries_distinct",
    "Distinct grants get distinct (uri, idx) status entries",
    ["MCPA-REV-003"],
)
def _entries_distinct(run: IssuerRun) -> None:
    if run.admin:
        grant_ids = [run.create_grant() for _ in range(4)]
    else:
        grant_ids = list(dict.fromkeys(run.config.grants.grant_ids))
        if len(grant_ids) < 2:
            raise Skipped("fewer than two grants in the target config")
    entries = {gid: _entry(run.issue(gid)) for gid in grant_ids}
    if len(set(entries.values())) != len(entries):
        raise Failed(f"two grants share a status entry: {sorted(entries.values())!r}")
    if run.admin:
        _withdraw(run, grant_ids)


@check(
    "status_list_id",
    "Status list URIs are {issuer}/status/{list_id} with a random list_id of at least 128 "
    "bits, and a list holds at most 2^20 entries",
    ["MCPA-REV-016", "MCPA-REV-015"],
)
def _list_id(run: IssuerRun) -> None:
    uri, _ = _entry(run.issue(run.grant()))
    issuer = str(run.metadata()["issuer"]).rstrip("/")
    prefix = issuer + "/status/"
    list_id = uri[len(prefix) :] if uri.startswith(prefix) else ""
    if not LIST_ID.fullmatch(list_id):
        raise Failed(
            f"{uri!r} is not {prefix}<list_id> with a list_id of 22 to 64 base64url "
            "characters (at least 128 random bits, MCPA-REV-016)"
        )
    resp, claims = _list_token(run, uri)
    try:
        bits = 8 * len(decode_status_list(claims["status_list"]["lst"]))
    except (KeyError, TypeError, ValueError, jose.JoseError) as exc:
        raise Failed(f"lst does not decode: {exc}", counterexample(resp)) from None
    if bits > MAX_LIST_BITS:
        raise Failed(f"the list has {bits} entries, more than 2^20", counterexample(resp))


@check(
    "status_list_herd",
    "Each status list has at least 2^17 entries (herd privacy)",
    ["MCPA-REV-020"],
    severity="SHOULD",
)
def _herd(run: IssuerRun) -> None:
    uri, _ = _entry(run.issue(run.grant()))
    resp, claims = _list_token(run, uri)
    bits = 8 * len(decode_status_list(claims["status_list"]["lst"]))
    if bits < HERD_BITS:
        raise Failed(f"the list has {bits} entries, fewer than 2^17", counterexample(resp))


@check(
    "status_list_unknown",
    "A status list id the issuer does not have is answered 404 not_found, not stored",
    ["MCPA-REV-018"],
)
def _unknown(run: IssuerRun) -> None:
    issuer = str(run.metadata()["issuer"]).rstrip("/")
    uri = f"{issuer}/status/{jose.random_id(16)}"
    resp = run.client.get(uri)
    if resp.status_code != 404 or oauth_error(resp) != "not_found":
        raise Failed(
            f"GET {uri}: HTTP {resp.status_code} error {oauth_error(resp)!r}, not 404 not_found",
            counterexample(resp),
        )
    if "no-store" not in resp.headers.get("cache-control", ""):
        raise Failed("the 404 of an unknown list may be stored", counterexample(resp))


@check(
    "status_list_fresh",
    "Every status list token served was signed at most one second before it was served",
    ["MCPA-REV-019"],
)
def _fresh(run: IssuerRun) -> None:
    uri, _ = _entry(run.issue(run.grant()))
    for _ in range(3):
        resp, claims = _list_token(run, uri)
        age = time.time() - int(claims.get("iat", 0))
        if age > 1 + CLOCK_TOLERANCE:
            raise Failed(
                f"the served list token is {age:.0f} s old, more than 1 s", counterexample(resp)
            )


@check(
    "status_list_caching",
    "Status list responses carry Cache-Control max-age within the token's remaining ttl "
    "and an ETag",
    ["MCPA-REV-011", "MCPA-REV-022"],
    severity="SHOULD",
)
def _caching(run: IssuerRun) -> None:
    uri, _ = _entry(run.issue(run.grant()))
    resp, claims = _list_token(run, uri)
    cc = resp.headers.get("cache-control", "")
    m = re.search(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", cc)
    if m is None or "no-store" in cc:
        raise Failed(f"Cache-Control is {cc!r}, without max-age", counterexample(resp))
    remaining = int(claims.get("ttl", 0)) - (time.time() - int(claims.get("iat", 0)))
    if int(m.group(1)) > remaining + CLOCK_TOLERANCE:
        raise Failed(
            f"max-age {m.group(1)} exceeds the token's remaining ttl ({remaining:.0f} s)",
            counterexample(resp),
        )
    etag = resp.headers.get("etag")
    if not etag:
        raise Failed("no ETag on the status list response", counterexample(resp))
    again = run.client.get(uri, headers={"If-None-Match": etag})
    if again.status_code not in (200, 304) or (again.status_code == 304 and again.content):
        raise Failed(f"a conditional GET answered HTTP {again.status_code}", counterexample(again))


@check(
    "grant_quota",
    "Creating pending grants until a quota is full ends in 403 quota_exceeded naming the "
    "quota, never a server error; the administrator can still provision",
    ["MCPA-GRT-026"],
)
def _quota(run: IssuerRun) -> None:
    probe = run.config.grants.quota_probe
    user = run.config.grants.user
    if probe <= 0 or not user:
        raise Skipped("set grants.quota_probe (and grants.user) to probe the grant quotas")
    created: list[str] = []
    refusal: httpx.Response | None = None
    body = _pending_body(run, user)
    try:
        for _ in range(probe):  # bounded: stops by itself
            resp = run.client.post(run.grants_url(), json=body, headers=run.grants_auth(run.agent))
            if resp.status_code != 201:
                refusal = resp
                break
            created.append(str(resp.json()["grant_id"]))
        if refusal is None:
            raise Failed(f"{probe} pending grants created without reaching a quota")
        problems = []
        if refusal.status_code != 403 or oauth_error(refusal) != "quota_exceeded":
            problems.append(
                f"HTTP {refusal.status_code} error {oauth_error(refusal)!r}, not 403 quota_exceeded"
            )
        else:
            data = refusal.json()
            try:
                schemas.validate("error-response", data)
            except ValueError as exc:
                problems.append(f"error body: {exc}")
            if data.get("mcpa_quota") not in QUOTAS:
                problems.append(f"mcpa_quota is {data.get('mcpa_quota')!r}")
        if problems:
            raise Failed("; ".join(problems), counterexample(refusal, body=body))
    finally:
        _withdraw(run, created)
    if run.admin:
        run.revoke_grant(run.create_grant())  # provisioning still works
    after = run.client.post(run.grants_url(), json=body, headers=run.grants_auth(run.agent))
    if after.status_code != 201:
        raise Failed(
            f"after withdrawing the pending grants, creation answers HTTP {after.status_code}",
            counterexample(after, body=body),
        )
    _withdraw(run, [str(after.json()["grant_id"])])


def list_path(uri: str) -> str:
    """The path of a status list URI (for reports)."""
    return urlsplit(uri).path
