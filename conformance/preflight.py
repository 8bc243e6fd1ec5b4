"""Before any check: is the target an MCP-Auth issuer or verifier at all?

A server that is not one (a static file server, the wrong port, an endpoint outside the
protected area) would otherwise fail or, worse, pass checks by accident. Each role gets one
cheap probe whose answer every conformant implementation gives, and the run stops with
exit code 2 and one line naming what the target did when the probe fails:

* Verifier: a request without a token gets 401 with a ``WWW-Authenticate`` field holding a
  ``DPoP`` challenge (MCPA-VER-002). Its parameters are not judged here;
  ``verifier.no_credentials_challenge`` does that.
* Issuer: the RFC 8414 metadata is a JSON object whose ``issuer`` is the configured one
  (MCPA-DSC-001, MCPA-DSC-002) and its ``jwks_uri`` serves a JWK Set (MCPA-DSC-003).

Also here: what to say when the verifier's gate (a valid token) fails, since the suite
knows whether the verifier ever fetched its keys.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from mcp_auth.conformance.results import CheckResult
from mcp_auth.conformance.suite_issuer import SuiteIssuer
from mcp_auth.conformance.suite_keys import REFRESH_INTERVAL, SuiteKeys

MCP_BODY = {"jsonrpc": "2.0", "id": 1, "method": "ping"}  # what verifier.send sends
_TCHARS = r"[A-Za-z0-9!#$%&'*+.^_`|~-]+"
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
# A challenge starts the field or follows a comma: a scheme, then token68, params or nothing.
_SCHEME = re.compile(rf"(?:^|,)\s*({_TCHARS})(?=\s+[^\s=,]|\s*(?:,|$))")


class NotATarget(Exception):
    """The target is not what the configuration says; the message is one line."""

    def __init__(self, message: str, role: str = "verifier") -> None:
        super().__init__(message)
        self.role = role


def challenge_schemes(value: str) -> list[str]:
    """The auth-schemes of a ``WWW-Authenticate`` value (RFC 9110 §11.6.1), lower case."""
    return [m.group(1).lower() for m in _SCHEME.finditer(_QUOTED.sub('""', value))]


def _describe(resp: httpx.Response) -> str:
    return f"HTTP {resp.status_code}"


def verifier(client: httpx.Client, url: str, method: str) -> None:
    """Raise :class:`NotATarget` unless a token-less request gets a 401 DPoP challenge."""
    headers: dict[str, str] = {}
    content: bytes | None = None
    if method in ("POST", "PUT", "PATCH"):
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        }
        content = json.dumps(MCP_BODY).encode()
    try:
        resp = client.request(method, url, headers=headers, content=content)
    except httpx.HTTPError as exc:
        raise NotATarget(
            f"target {url} did not answer a {method} request without a token: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    lead = f"target {url} is not an MCP-Auth verifier: a {method} request without a token got"
    want = "expected 401 with a DPoP challenge (MCPA-VER-002)"
    if resp.status_code != 401:
        raise NotATarget(f"{lead} {_describe(resp)}, {want}")
    values = resp.headers.get_list("www-authenticate")
    if not values:
        raise NotATarget(f"{lead} 401 without a WWW-Authenticate field, {want}")
    schemes = [s for v in values for s in challenge_schemes(v)]
    if "dpop" not in schemes:
        named = ", ".join(sorted(set(schemes))) or "none readable"
        raise NotATarget(f"{lead} 401 with WWW-Authenticate schemes {named}, {want}")


def _get_json(client: httpx.Client, url: str, lead: str, what: str, req: str) -> Any:
    try:
        resp = client.get(url)
    except httpx.HTTPError as exc:
        raise NotATarget(f"{lead}: GET {url} failed: {type(exc).__name__}: {exc}") from None
    if resp.status_code != 200:
        raise NotATarget(
            f"{lead}: GET {url} got {_describe(resp)}, expected 200 with {what} ({req})"
        )
    try:
        return resp.json()
    except ValueError:
        ctype = resp.headers.get("content-type", "no Content-Type")
        raise NotATarget(
            f"{lead}: GET {url} answered 200 with a body that is not JSON ({ctype}), "
            f"expected {what} ({req})"
        ) from None


def issuer(client: httpx.Client, issuer_url: str) -> None:
    """Raise :class:`NotATarget` unless the metadata parses, names this issuer and its
    ``jwks_uri`` serves a JWK Set. The metadata URL is the one ``issuer.metadata`` reads."""
    try:
        _probe_issuer(client, issuer_url)
    except NotATarget as exc:
        raise NotATarget(str(exc), "issuer") from None


def _probe_issuer(client: httpx.Client, issuer_url: str) -> None:
    lead = f"target {issuer_url} is not an MCP-Auth issuer"
    md_url = issuer_url.rstrip("/") + "/.well-known/oauth-authorization-server"
    md = _get_json(client, md_url, lead, "RFC 8414 metadata", "MCPA-DSC-001")
    if not isinstance(md, dict):
        raise NotATarget(f"{lead}: the metadata at {md_url} is not a JSON object (MCPA-DSC-001)")
    if md.get("issuer") != issuer_url:
        raise NotATarget(
            f"{lead}: its metadata names issuer {md.get('issuer')!r}, not the configured "
            f"{issuer_url!r} (MCPA-DSC-002)"
        )
    jwks_uri = md.get("jwks_uri")
    if not isinstance(jwks_uri, str) or not jwks_uri:
        raise NotATarget(f"{lead}: its metadata has no jwks_uri (MCPA-DSC-001)")
    jwks = _get_json(client, jwks_uri, lead, "a JWK Set", "MCPA-DSC-003")
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise NotATarget(f"{lead}: {jwks_uri} is not a JWK Set (no keys array) (MCPA-DSC-003)")


def verifier_gate_message(
    result: CheckResult, suite: SuiteIssuer, keys: SuiteKeys, resource: str, scope: str
) -> str:
    """Why the verifier refused a valid token, as far as the suite can tell."""
    got = result.reason.splitlines()[0][:200] if result.reason else result.outcome
    fetched = bool(suite.jwks_served())
    if not fetched and keys.new:
        return (
            f"the verifier did not accept a valid token signed by a key it has not fetched "
            f"yet (kid {keys.es256.kid}): it did not fetch the suite's JWK Set "
            f"{suite.url}/jwks during this run, possibly because it refreshed its JWK Set "
            f"less than {REFRESH_INTERVAL:.0f} s ago, which MCPA-VER-033 allows, or because it "
            f"does not trust the issuer {suite.url}. To avoid it, run without --fresh-keys "
            f"(the suite then reuses its stored keys), or wait {REFRESH_INTERVAL:.0f} s or "
            f"restart the verifier before the next run. ({got})"
        )
    if not fetched:
        return (
            f"the verifier refused a valid token without fetching the suite's JWK Set "
            f"{suite.url}/jwks during this run ({got}): check that it trusts the issuer "
            f"{suite.url} and expects resource (aud) {resource} and scope {scope or '(none)'}; "
            f"if it still holds keys of another suite key file, wait "
            f"{REFRESH_INTERVAL:.0f} s (MCPA-VER-033) or restart it"
        )
    return (
        f"the verifier refused a valid token signed by a key it fetched from {suite.url}/jwks "
        f"({got}): check the resource (aud) {resource} and the scope {scope or '(none)'} it "
        "expects; the other verifier checks were not run"
    )
