"""Verifier class: the suite plays the issuer and sends the resource server valid and
adversarial tokens and DPoP proofs; the oracle says what the answer must be.

Every check is a list of cases (or a Hypothesis property over generated cases). A case is
materialized into the exact header values, judged by :func:`oracle.expect` (which must agree
with the requirement the check names: otherwise the suite itself is wrong and says so),
sent, and the answer compared: status code, the ``error`` in ``WWW-Authenticate`` and body.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
from hypothesis import HealthCheck, Phase, Verbosity, assume, given, seed, settings
from hypothesis import strategies as st

from mcp_auth import SPEC_VERSION, schemas
from mcp_auth.conformance import hypo, jose, oracle, strategies
from mcp_auth.conformance.cases import Case, Op, ProofRecipe, Target, TokenRecipe, Wire, materialize
from mcp_auth.conformance.framework import (
    SUCCESS_2XX,
    Failed,
    Registry,
    Skipped,
    headers_json,
    response_class,
    response_json,
)
from mcp_auth.conformance.profiles import Profile
from mcp_auth.conformance.suite_issuer import SuiteIssuer

MCP_BODY = {"jsonrpc": "2.0", "id": 1, "method": "ping"}


@dataclass
class VerifierRun:
    issuer: SuiteIssuer
    target: Target
    client: httpx.Client
    profile: Profile
    seed: int = 0
    ctx: oracle.VerifierContext = field(init=False)
    # Observations across all checks: 401/403 answers without resource_metadata (DSC-006).
    missing_metadata: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ctx = oracle.VerifierContext(
            issuer=self.issuer.url,
            resource=self.target.resource,
            required_scope=self.target.required_scope,
            jwks=self.issuer.jwks(),
            status=self.issuer.status,
        )


registry: Registry[VerifierRun] = Registry("verifier")
check = registry.check


# -- sending and judging ------------------------------------------------------------------


def send(
    run: VerifierRun, authorization: Iterable[str], dpop: Iterable[str], url: str | None = None
) -> httpx.Response:
    t = run.target
    headers: list[tuple[str, str]] = [("Authorization", a) for a in authorization]
    headers += [("DPoP", d) for d in dpop]
    content: bytes | None = None
    if t.method in ("POST", "PUT", "PATCH"):
        headers += [
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
        ]
        content = json.dumps(MCP_BODY).encode()
    return run.client.request(t.method, url or t.url, headers=headers, content=content)


def www_authenticate(resp: httpx.Response) -> dict[str, str]:
    """Parameters of the DPoP challenge (scheme lower-cased under key ``scheme``)."""
    value = resp.headers.get("www-authenticate", "")
    out: dict[str, str] = {}
    m = re.match(r"\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)", value)
    if m:
        out["scheme"] = m.group(1).lower()
    for name, quoted, bare in re.findall(
        r'([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))', value
    ):
        out[name.lower()] = quoted if quoted or not bare else bare
    return out


def answered_error(resp: httpx.Response) -> str | None:
    params = www_authenticate(resp)
    if "error" in params:
        return params["error"]
    try:
        body = resp.json()
    except ValueError:
        return None
    return str(body["error"]) if isinstance(body, dict) and "error" in body else None


def accepted(resp: httpx.Response, success: frozenset[int] = SUCCESS_2XX) -> bool:
    """The protected endpoint answered with a success status (framework.response_class)."""
    return response_class(resp, success) == "accepted"


def mismatch(
    expected: oracle.Expectation, resp: httpx.Response, success: frozenset[int] = SUCCESS_2XX
) -> str | None:
    if expected.accepted:
        if accepted(resp, success):
            return None
        if response_class(resp, success) == "server_error":
            return (
                f"expected the request to be accepted ({expected.reason}); got HTTP "
                f"{resp.status_code}, a server error (a 5xx never counts as accepted)"
            )
        return (
            f"expected the request to be accepted ({expected.reason}); got HTTP "
            f"{resp.status_code} error {answered_error(resp)!r}"
        )
    if accepted(resp, success):
        return (
            f"expected rejection with HTTP {expected.status} "
            f"{expected.error or '(no error)'} [{expected.requirement}: {expected.reason}]; "
            f"the request was accepted (HTTP {resp.status_code})"
        )
    got = answered_error(resp)
    if expected.allows(resp.status_code, got):
        return None
    return (
        f"expected HTTP {expected.status} error {expected.error!r} [{expected.requirement}: "
        f"{expected.reason}]; got HTTP {resp.status_code} error {got!r}"
    )


def report_case(wire: Wire | None, resp: httpx.Response, note: str) -> dict[str, Any]:
    req = resp.request
    out: dict[str, Any] = {
        "request": {
            "method": req.method,
            "url": str(req.url),
            "headers": headers_json(list(req.headers.multi_items())),
        },
        "response": response_json(resp),
    }
    if req.content:
        out["request"]["body"] = MCP_BODY
    notes = [note]
    if wire is not None:
        if isinstance(wire.header, dict):
            out["token_header"] = wire.header
        if isinstance(wire.claims, dict):
            out["token_claims"] = wire.claims
        if wire.proof:
            ph, pc = jose.decode_unverified(wire.proof)
            notes.append(f"DPoP proof header: {json.dumps(ph)}; claims: {json.dumps(pc)}")
    out["note"] = "\n".join(n for n in notes if n)
    return out


def run_case(run: VerifierRun, case: Case, requirements: tuple[str, ...] | None) -> str | None:
    """Send one case; return None or a failure reason (and stash the counterexample)."""
    now = int(time.time())
    wire = materialize(case, run.target, now)
    req = oracle.Request(run.target.method, run.target.url, wire.authorization, wire.dpop)
    expected = oracle.expect(req, run.ctx, now)
    allowed_ok = (
        requirements is None or "MCPA-VER-001" in requirements or (case.label.startswith("valid"))
    )
    if requirements is not None and not (
        expected.requirement in requirements or (expected.accepted and allowed_ok)
    ):
        raise RuntimeError(  # a suite bug, never the target's fault
            f"suite error: case {case.label!r} is decided by {expected.requirement} "
            f"({expected.reason}), not by {requirements}"
        )
    resp = send(run, wire.authorization, wire.dpop)
    if resp.status_code in (401, 403) and "resource_metadata" not in www_authenticate(resp):
        run.missing_metadata.append(report_case(wire, resp, f"case: {case.label or 'generated'}"))
    problem = mismatch(expected, resp, run.target.success_status)
    if problem:
        ops = "; ".join(str(o) for o in (*case.token.ops, *case.proof.ops))
        note = f"case: {case.label or 'generated'}"
        if ops:
            note += f" ({ops})"
        note += f"; token signature: {case.token.signature}; scheme {case.scheme}"
        raise Failed(
            f"{case.label}: {problem}" if case.label else problem, report_case(wire, resp, note)
        )
    return None


def run_cases(run: VerifierRun, cases: Iterable[Case], requirements: Iterable[str]) -> None:
    reqs = tuple(requirements)
    for case in cases:
        run_case(run, case, reqs)


def canary_guard(run: VerifierRun, before: int, what: str) -> None:
    hits = run.issuer.canary_hits()[before:]
    if hits:
        h = hits[0]
        raise Failed(
            f"{what}: the verifier fetched {h.method} {run.issuer.canary_url}{h.path}, a URL "
            "named only in the token (header-driven fetch)",
            None,
        )


def valid(label: str = "valid", **kw: Any) -> Case:
    return Case(token=TokenRecipe(**kw), proof=ProofRecipe(), label=label)


def tok(label: str, *ops: Op, signature: str = "ok", **kw: Any) -> Case:
    return Case(token=TokenRecipe(ops=ops, signature=signature, **kw), label=label)


def H(path: str, value: Any) -> Op:
    return Op("set", "header", path, value)


def C(path: str, value: Any) -> Op:
    return Op("set", "claims", path, value)


def D(path: str, target: str = "claims") -> Op:
    return Op("del", target, path)


def T(path: str, offset: int) -> Op:
    return Op("time", "claims", path, offset)


def prf(label: str, **kw: Any) -> Case:
    kw.setdefault("iat", -2)
    return Case(proof=ProofRecipe(**kw), label=label)


# -- discovery and the challenge ------------------------------------------------------------


def resource_metadata_url(resource: str) -> str:
    parts = urlsplit(resource)
    path = parts.path.rstrip("/")
    return urlunsplit(
        (parts.scheme, parts.netloc, "/.well-known/oauth-protected-resource" + path, "", "")
    )


@check(
    "resource_metadata",
    "RFC 9728 protected resource metadata is published and correct",
    ["MCPA-DSC-005"],
)
def _resource_metadata(run: VerifierRun) -> None:
    url = resource_metadata_url(run.target.resource)
    resp = run.client.get(url)
    if resp.status_code != 200:
        raise Failed(f"GET {url}: HTTP {resp.status_code}", report_case(None, resp, ""))
    try:
        md = resp.json()
    except ValueError:
        raise Failed("resource metadata is not JSON", report_case(None, resp, "")) from None
    problems = []
    if not resp.headers.get("content-type", "").startswith("application/json"):
        problems.append("Content-Type is not application/json")
    if md.get("resource") != run.target.resource:
        problems.append(f"resource is {md.get('resource')!r}, not {run.target.resource!r}")
    if run.issuer.url not in (md.get("authorization_servers") or []):
        problems.append(f"authorization_servers does not list {run.issuer.url}")
    if md.get("bearer_methods_supported") != ["header"]:
        problems.append('bearer_methods_supported is not ["header"]')
    if md.get("dpop_bound_access_tokens_required") is not True:
        problems.append("dpop_bound_access_tokens_required is not true")
    if "ES256" not in (md.get("dpop_signing_alg_values_supported") or []):
        problems.append("dpop_signing_alg_values_supported lacks ES256")
    if md.get("mcpa_version") != SPEC_VERSION:
        problems.append(f"mcpa_version is not {SPEC_VERSION}")
    for s in run.target.required_scope.split():
        if s not in (md.get("scopes_supported") or []):
            problems.append(f"scopes_supported lacks {s}")
    try:
        schemas.validate("resource-metadata", md)
    except ValueError as exc:
        problems.append(f"schema: {exc}")
    if problems:
        raise Failed("; ".join(problems), report_case(None, resp, ""))


@check(
    "no_credentials_challenge",
    "A request without credentials gets 401 with a DPoP challenge naming resource_metadata",
    ["MCPA-VER-002", "MCPA-DSC-006"],
)
def _no_credentials(run: VerifierRun) -> None:
    resp = send(run, [], [])
    params = www_authenticate(resp)
    problems = []
    if resp.status_code != 401:
        problems.append(f"HTTP {resp.status_code}, not 401")
    if params.get("scheme") != "dpop":
        problems.append("WWW-Authenticate does not use the DPoP scheme")
    if "resource_metadata" not in params:
        problems.append("WWW-Authenticate lacks resource_metadata")
    elif params["resource_metadata"] != resource_metadata_url(run.target.resource):
        problems.append(
            f"resource_metadata is {params['resource_metadata']!r}, expected "
            f"{resource_metadata_url(run.target.resource)!r}"
        )
    if "error" in params:
        problems.append("a request without credentials must not carry an error code")
    if "algs" not in params:
        problems.append("WWW-Authenticate lacks algs")
    two_proofs = send(run, [], ["x.y.z", "x.y.z"])  # no Authorization comes first (VER-002)
    if two_proofs.status_code != 401 or "error" in www_authenticate(two_proofs):
        problems.append(
            f"no Authorization but two DPoP fields: HTTP {two_proofs.status_code} "
            f"{answered_error(two_proofs)!r}, not 401 without error"
        )
    if resp.content.strip():
        try:
            body = resp.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "error" in body:
            problems.append("the body of a request without credentials must not carry an error")
    if problems:
        raise Failed("; ".join(problems), report_case(None, resp, ""))


@check(
    "valid_token_accepted",
    "A valid ES256 token with a valid DPoP proof is accepted",
    ["MCPA-VER-001", "MCPA-TOK-023"],
)
def _valid(run: VerifierRun) -> None:
    run_cases(
        run,
        [
            valid("ES256 token, depth 2 (agent, tool)"),
            valid("depth 1 (the agent with its model)", chain=(("agent", "a", "m"),)),
            valid(
                "a tool hop with its own model", chain=(("agent", "a", "m"), ("tool", "t", "m2"))
            ),
        ],
        ["MCPA-VER-001"],
    )


@check(
    "ed25519_accepted",
    "A valid Ed25519 token (RFC 9864) is accepted",
    ["MCPA-TOK-023", "MCPA-VER-001"],
)
def _ed25519(run: VerifierRun) -> None:
    run_cases(run, [valid("Ed25519 token", alg="Ed25519")], ["MCPA-VER-001"])


@check(
    "eddsa_alias_accepted",
    "A token whose alg is the deprecated EdDSA (same Ed25519 key) is still accepted",
    ["MCPA-TOK-023", "MCPA-VER-001"],
)
def _eddsa_alias(run: VerifierRun) -> None:
    run_cases(run, [valid("EdDSA (deprecated alias) token", alg="EdDSA")], ["MCPA-VER-001"])


@check(
    "error_response_form",
    "401 answers carry WWW-Authenticate DPoP error, algs and resource_metadata, and a JSON body",
    ["MCPA-VER-030", "MCPA-DSC-006"],
)
def _error_form(run: VerifierRun) -> None:
    wire = materialize(tok("bad signature", signature="flip:3"), run.target)
    resp = send(run, wire.authorization, wire.dpop)
    params = www_authenticate(resp)
    problems = []
    if resp.status_code != 401:
        problems.append(f"HTTP {resp.status_code}, not 401")
    if params.get("scheme") != "dpop":
        problems.append("WWW-Authenticate does not use the DPoP scheme")
    if params.get("error") != "invalid_token":
        problems.append(f"WWW-Authenticate error is {params.get('error')!r}")
    if "resource_metadata" not in params:
        problems.append("WWW-Authenticate lacks resource_metadata")
    if "algs" not in params or "ES256" not in params["algs"].split():
        problems.append("WWW-Authenticate lacks algs with ES256")
    elif "EdDSA" in params["algs"].split():
        problems.append("WWW-Authenticate algs advertises the deprecated EdDSA (RFC 9864)")
    try:
        body = resp.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("error") != "invalid_token":
        problems.append("JSON body lacks error invalid_token")
    text = resp.text
    if not resp.headers.get("content-type", "").startswith("application/json"):
        problems.append("the error body is not application/json")
    if "no-store" not in resp.headers.get("cache-control", ""):
        problems.append("Cache-Control: no-store missing on the error response")
    if "Traceback" in text or 'File "' in text:
        problems.append("the response leaks internal detail (stack trace)")
    if problems:
        raise Failed("; ".join(problems), report_case(wire, resp, "bit-flipped signature"))


@check(
    "insufficient_scope",
    "A token without the required scope gets 403 insufficient_scope with the scope parameter",
    ["MCPA-VER-027"],
)
def _scope(run: VerifierRun) -> None:
    case = valid("scope lacks the required scope", scope="unrelated:scope")
    spaced = " " + "  ".join(run.target.required_scope.split()) + " "
    # Empty pieces of a badly spaced scope match nothing; the rest still counts (step 14).
    run_cases(run, [case, valid("valid: doubled, leading, trailing spaces", scope=spaced)],
              ["MCPA-VER-027"])  # fmt: skip
    wire = materialize(case, run.target)
    resp = send(run, wire.authorization, wire.dpop)
    params = www_authenticate(resp)
    if params.get("scope", "").split() != run.target.required_scope.split():
        raise Failed(
            f'403 challenge lacks scope="{run.target.required_scope}"', report_case(wire, resp, "")
        )


# -- step 1-3: extraction, size, parsing -----------------------------------------------------


@check(
    "bearer_scheme", "A DPoP-bound token sent with the Bearer scheme is rejected", ["MCPA-VER-003"]
)
def _bearer(run: VerifierRun) -> None:
    run_cases(
        run,
        [
            Case(scheme="Bearer", label="Bearer with DPoP proof"),
            Case(scheme="Bearer", proof=ProofRecipe(present=False), label="Bearer without proof"),
        ],
        ["MCPA-VER-003"],
    )
    _raw_authorization(run, "Bearer a b", "credentials of another scheme with a space")


def _raw_authorization(run: VerifierRun, value: str, label: str) -> None:
    """Send one literal Authorization value (with a valid proof) and judge it by the oracle."""
    now = int(time.time())
    wire = materialize(Case(), run.target, now)
    req = oracle.Request(run.target.method, run.target.url, [value], wire.dpop)
    resp = send(run, [value], wire.dpop)
    problem = mismatch(oracle.expect(req, run.ctx, now), resp)
    if problem:
        raise Failed(
            f"Authorization {value!r} ({label}): {problem}", report_case(wire, resp, label)
        )


@check(
    "repeated_fields",
    "Repeated Authorization or DPoP fields are refused with 400 invalid_request",
    ["MCPA-VER-004"],
)
def _repeated(run: VerifierRun) -> None:
    for label, twice in (("Authorization", True), ("DPoP", False)):
        now = int(time.time())
        wire = materialize(Case(), run.target, now)
        auth = wire.authorization * 2 if twice else wire.authorization
        dpop = wire.dpop if twice else wire.dpop * 2
        expected = oracle.expect(
            oracle.Request(run.target.method, run.target.url, auth, dpop), run.ctx, now
        )
        resp = send(run, auth, dpop)
        problem = mismatch(expected, resp, run.target.success_status)
        if problem:
            raise Failed(
                f"{label} sent twice: {problem}",
                report_case(wire, resp, f"{label} field sent twice"),
            )
    for value, label in (
        ("", "an empty value"),
        ("Bearer", "a scheme without credentials"),
        ("DPoP", "the DPoP scheme without credentials"),
        ("Bearer a,b", "a comma in the credentials"),
        ("Digest a=b, c=d", "auth-param credentials"),
    ):
        _raw_authorization(run, value, label)


@check(
    "token_in_query_ignored",
    "A token in the query (access_token) is not a credential: bare 401 challenge",
    ["MCPA-VER-034", "MCPA-VER-002"],
)
def _query_token(run: VerifierRun) -> None:
    now = int(time.time())
    wire = materialize(Case(), run.target, now)
    sep = "&" if "?" in run.target.url else "?"
    url = f"{run.target.url}{sep}{urlencode({'access_token': wire.token})}"
    expected = oracle.expect(oracle.Request(run.target.method, url, (), wire.dpop), run.ctx, now)
    resp = send(run, [], wire.dpop, url=url)
    problem = mismatch(expected, resp, run.target.success_status)
    if not problem and "error" in www_authenticate(resp):
        problem = "the challenge carries an error code: the query token was treated as a credential"
    if problem:
        raise Failed(problem, report_case(wire, resp, "token sent only as ?access_token="))


@check("token_too_large", "A token over 8192 bytes is rejected", ["MCPA-VER-005"])
def _oversize(run: VerifierRun) -> None:
    run_cases(run, [tok("9 KB token", signature="oversize")], ["MCPA-VER-005"])


@check(
    "malformed_token",
    "Malformed compact serialisations are rejected: missing and extra "
    "segments, invalid base64url, duplicate claims",
    ["MCPA-VER-006"],
)
def _malformed(run: VerifierRun) -> None:
    run_cases(
        run,
        [
            tok("two segments", signature="drop-segment"),
            tok("four segments", signature="extra-segment"),
            tok("standard base64 alphabet in the signature", signature="bad-b64"),
            tok("padded signature", signature="padding"),
            tok("signature with non-zero pad bits (non-canonical)", signature="non-canonical"),
            tok("valid: whitespace around the claims JSON text", signature="json-whitespace"),
            tok("duplicate member name in claims", signature="dup-claim"),
        ],
        ["MCPA-VER-006"],
    )


# -- steps 4-7: header and signature ---------------------------------------------------------


@check(
    "wrong_typ", "Tokens with a wrong or missing typ are rejected", ["MCPA-VER-007", "MCPA-TOK-001"]
)
def _typ(run: VerifierRun) -> None:
    run_cases(
        run,
        [
            tok(f"typ {v!r}", H("typ", v))
            for v in ("JWT", "at+jwt", "dpop+jwt", "application/at+jwt")
        ]
        + [tok("no typ", D("typ", "header"))],
        ["MCPA-VER-007"],
    )


@check(
    "typ_spellings_accepted",
    "Both typ spellings are accepted, case-insensitively",
    ["MCPA-VER-007", "MCPA-TOK-001"],
)
def _typ_ok(run: VerifierRun) -> None:
    run_cases(
        run,
        [
            tok(f"typ {v!r}", H("typ", v))
            for v in ("application/mcpa+jwt", "MCPA+JWT", "Application/MCPA+jwt")
        ],
        ["MCPA-VER-001"],
    )


@check("alg_none", "alg none is rejected in every case variant", ["MCPA-VER-008", "MCPA-TOK-023"])
def _alg_none(run: VerifierRun) -> None:
    run_cases(
        run,
        [
            tok(f"alg {v!r}", H("alg", v), signature=s)
            for v in ("none", "None", "NONE", "nOnE")
            for s in ("none", "ok")
        ],
        ["MCPA-VER-008"],
    )


@check(
    "alg_hmac_public_key",
    "HMAC signed with the issuer's public key as secret is rejected",
    ["MCPA-VER-008", "MCPA-TOK-023"],
)
def _alg_hmac(run: VerifierRun) -> None:
    run_cases(
        run,
        [
            tok(f"alg {v}", H("alg", v), signature="hmac-public")
            for v in ("HS256", "HS384", "HS512")
        ],
        ["MCPA-VER-008"],
    )


@check(
    "alg_not_allowed",
    "Algorithms outside the allow-list are rejected",
    ["MCPA-VER-008", "MCPA-TOK-023"],
)
def _alg_other(run: VerifierRun) -> None:
    run_cases(
        run,
        [
            tok(f"alg {v}", H("alg", v))
            for v in ("RS256", "ES384", "ES512", "PS256", "es256", "ed25519", "EDDSA", "ES256K")
        ],
        ["MCPA-VER-008"],
    )


@check(
    "embedded_jwk",
    "An embedded jwk/x5c header is rejected, never used as the key",
    ["MCPA-VER-009", "MCPA-SEC-001", "MCPA-TOK-013"],
)
def _embedded(run: VerifierRun) -> None:
    run_cases(
        run,
        [
            tok(
                "attacker key embedded as jwk, signed by the attacker",
                H("jwk", "$attacker_jwk"),
                H("kid", "attacker-1"),
                signature="attacker",
            ),
            tok(
                "embedded jwk with the issuer's kid",
                H("jwk", "$attacker_jwk"),
                signature="attacker",
            ),
            tok("x5c header", H("x5c", ["MIIBIjANBgkq"])),
        ],
        ["MCPA-VER-009"],
    )


@check(
    "jku_x5u_not_fetched",
    "jku and x5u headers are rejected and never fetched",
    ["MCPA-VER-009", "MCPA-SEC-001", "MCPA-TOK-013"],
)
def _jku(run: VerifierRun) -> None:
    before = len(run.issuer.canary_hits())
    cases = [
        tok(
            f"{h} to the canary, attacker-signed",
            H(h, "$canary_jwks"),
            H("kid", "attacker-1"),
            signature="attacker",
        )
        for h in ("jku", "x5u")
    ]
    cases += [
        tok(f"{h} to the canary, issuer-signed", H(h, "$canary_jwks")) for h in ("jku", "x5u")
    ]
    try:
        run_cases(run, cases, ["MCPA-VER-009"])
    finally:
        canary_guard(run, before, "jku/x5u")


@check("crit_rejected", "A crit header is rejected", ["MCPA-VER-010", "MCPA-TOK-013"])
def _crit(run: VerifierRun) -> None:
    run_cases(
        run,
        [
            tok("crit [exp]", H("crit", ["exp"])),
            tok("crit with an unknown extension", H("crit", ["mcpa-ext"]), H("mcpa-ext", True)),
        ],
        ["MCPA-VER-010"],
    )


@check(
    "kid_unknown_or_injected",
    "Unknown, missing and injected kid values select no key",
    ["MCPA-VER-011", "MCPA-TOK-003"],
)
def _kid(run: VerifierRun) -> None:
    cases = [
        tok(f"kid {v!r}", H("kid", v))
        for v in (
            "unknown-kid-0001",
            "../../../../../../dev/null",
            "' OR '1'='1",
            run.issuer.es256.kid + "' --",
            "",
            "*",
            run.issuer.es256.kid + "\u0000",
            "http://127.0.0.1:1/jwks",
        )
    ]
    cases += [
        tok("no kid", D("kid", "header")),
        tok("kid as a number", H("kid", 1)),
        tok("Ed25519 kid with alg ES256", H("kid", run.issuer.eddsa.kid)),
    ]
    run_cases(run, cases, ["MCPA-VER-011"])


@check(
    "signature_bit_flips",
    "Tokens with flipped signature bits or a foreign signer are rejected",
    ["MCPA-VER-012"],
)
def _flips(run: VerifierRun) -> None:
    cases = [tok(f"ES256 bit {b} flipped", signature=f"flip:{b}") for b in (0, 7, 255, 256, 511)]
    cases += [
        tok(f"Ed25519 bit {b} flipped", signature=f"flip:{b}", alg="Ed25519") for b in (0, 300)
    ]
    cases += [tok("EdDSA (alias) bit 9 flipped", signature="flip:9", alg="EdDSA")]
    cases += [tok("signed by the attacker under the issuer's kid", signature="attacker")]
    run_cases(run, cases, ["MCPA-VER-012"])


@check(
    "ecdsa_invalid_encodings",
    "ECDSA r = s = 0, DER-encoded, truncated and empty signatures are rejected",
    ["MCPA-VER-012"],
)
def _ecdsa(run: VerifierRun) -> None:
    run_cases(
        run,
        [
            tok("r = s = 0", signature="zero"),
            tok("DER-encoded ECDSA signature", signature="der"),
            tok("signature one byte short", signature="truncate"),
            tok("empty signature", signature="empty"),
        ],
        ["MCPA-VER-012", "MCPA-VER-006"],
    )


# -- steps 8-11: claims ------------------------------------------------------------------------


@check(
    "required_claims",
    "Each required claim missing or of the wrong type is rejected",
    ["MCPA-VER-013", "MCPA-TOK-004", "MCPA-TOK-021"],
)
def _claims(run: VerifierRun) -> None:
    cases = [tok(f"no {n}", D(n)) for n in strategies.CLAIMS]
    wrong: list[tuple[str, Any]] = [
        ("iss", 1),
        ("sub", ["alice"]),
        ("client_id", None),
        ("iat", "1700000000"),
        ("iat", True),
        ("exp", 1.5),
        ("exp", "never"),
        ("jti", 7),
        ("scope", ["data:read"]),
        ("grant_id", {}),
        ("cnf", "jkt"),
        ("status", 7),
        ("act", "agent"),
        ("nbf", "0"),
    ]
    cases += [tok(f"{n} = {json.dumps(v)}", C(n, v)) for n, v in wrong]
    cases += [
        tok("cnf without jkt", D("cnf.jkt")),
        tok("cnf.jkt = 5", C("cnf.jkt", 5)),
        tok('status.mcpa_grant_list.idx = "1"', C("status.mcpa_grant_list.idx", "1")),
        tok("status without mcpa_grant_list", D("status.mcpa_grant_list")),
        tok(
            "only draft-00's status.status_list (another mechanism, ignored)",
            D("status.mcpa_grant_list"),
            C("status.status_list", {"idx": 1, "uri": "https://issuer.example/status/1"}),
        ),
    ]
    run_cases(run, cases, ["MCPA-VER-013", "MCPA-VER-015"])


@check("wrong_iss", "A token from another issuer is rejected", ["MCPA-VER-014", "MCPA-DSC-002"])
def _iss(run: VerifierRun) -> None:
    run_cases(
        run,
        [
            tok("iss of another issuer", C("iss", "https://evil.example")),
            tok("iss with a trailing slash", C("iss", "$issuer_slash")),
        ],
        ["MCPA-VER-014"],
    )


@check(
    "wrong_aud",
    "A token for another audience, or with aud as an array, is rejected",
    ["MCPA-VER-015", "MCPA-TOK-005"],
)
def _aud(run: VerifierRun) -> None:
    r = run.target.resource
    run_cases(
        run,
        [
            tok("aud of another resource", C("aud", "https://other.example/mcp")),
            tok("aud as an array with the right resource", C("aud", [r])),
            tok("aud as an array", C("aud", [r, "https://other.example/"])),
        ],
        ["MCPA-VER-015", "MCPA-VER-013"],
    )


@check(
    "time_claims",
    "Expired, not-yet-valid and future-issued tokens are rejected; tokens "
    "well inside their validity are accepted",
    ["MCPA-VER-016"],
)
def _time(run: VerifierRun) -> None:
    run_cases(
        run,
        [
            tok("expired 10 minutes ago", T("iat", -800), T("exp", -600)),
            tok("expired 4 minutes ago", T("iat", -400), T("exp", -240)),
            tok("nbf 10 minutes ahead", T("nbf", 600)),
            tok("iat 10 minutes ahead", T("iat", 600), T("exp", 800)),
            tok("valid: issued 4 minutes ago", T("iat", -240), T("exp", 50)),
            tok("valid: nbf in the past", T("nbf", -60)),
        ],
        ["MCPA-VER-016"],
    )


@check(
    "token_lifetime",
    "A token whose exp - iat exceeds the maximum lifetime is rejected",
    ["MCPA-VER-017", "MCPA-TOK-011"],
)
def _lifetime(run: VerifierRun) -> None:
    run_cases(
        run,
        [
            tok("one-hour token", T("iat", -30), T("exp", 3570)),
            tok("one-day token", T("iat", -30), T("exp", 86400)),
        ],
        ["MCPA-VER-017"],
    )


# -- step 12: DPoP -----------------------------------------------------------------------------


@check("dpop_missing", "A DPoP-bound token without a proof is rejected", ["MCPA-VER-018"])
def _dpop_missing(run: VerifierRun) -> None:
    run_cases(
        run, [Case(proof=ProofRecipe(present=False), label="no DPoP header")], ["MCPA-VER-018"]
    )


@check(
    "dpop_invalid_proof",
    "Invalid proofs are rejected: wrong typ, alg none, private key in "
    "jwk, bad signature, missing jti",
    ["MCPA-VER-018"],
)
def _dpop_invalid(run: VerifierRun) -> None:
    run_cases(
        run,
        [
            prf("proof typ jwt", ops=(H("typ", "jwt"),)),
            prf("proof alg none", ops=(H("alg", "none"),), signature="none"),
            prf("private key in the proof jwk", signature="private-jwk"),
            prf("proof signed by another key than its jwk", signature="foreign-key"),
            prf("proof signature bit flipped", signature="flip"),
            prf("proof without jti", ops=(D("jti"),)),
            prf("proof with an empty jti", ops=(C("jti", ""),)),
            prf("proof jwk with use enc", ops=(H("jwk.use", "enc"),)),
            prf("proof jwk with another alg", ops=(H("jwk.alg", "EdDSA"),)),
            prf(
                "valid: proof jwk with kid, alg and use sig",
                ops=(H("jwk.kid", "k1"), H("jwk.alg", "ES256"), H("jwk.use", "sig")),
            ),
            prf("proof without jwk", ops=(D("jwk", "header"),)),
        ],
        ["MCPA-VER-018"],
    )


@check("dpop_htm", "A proof for another HTTP method is rejected", ["MCPA-VER-019"])
def _htm(run: VerifierRun) -> None:
    other = "GET" if run.target.method != "GET" else "POST"
    run_cases(
        run, [prf(f"htm {other}", htm=other), prf("htm DELETE", htm="DELETE")], ["MCPA-VER-019"]
    )


@check("dpop_htu", "A proof for another URL is rejected", ["MCPA-VER-020"])
def _htu(run: VerifierRun) -> None:
    u = urlsplit(run.target.url)
    other_path = urlunsplit((u.scheme, u.netloc, (u.path.rstrip("/") or "") + "/other", "", ""))
    other_port = urlunsplit((u.scheme, f"{u.hostname}:{(u.port or 80) + 1}", u.path, "", ""))
    port = u.port or (443 if u.scheme == "https" else 80)
    zero_port = urlunsplit((u.scheme, f"{u.hostname}:0{port}", u.path, "", ""))
    run_cases(
        run,
        [
            prf("htu with another path", htu=other_path),
            prf("htu with another port", htu=other_port),
            prf("htu on another host", htu="https://evil.example/mcp"),
            prf("valid: htu port with a leading zero (the same port)", htu=zero_port),
        ],
        ["MCPA-VER-020"],
    )


@check("dpop_iat", "Stale and future proofs are rejected", ["MCPA-VER-021"])
def _dpop_iat(run: VerifierRun) -> None:
    run_cases(
        run,
        [
            prf("proof 5 minutes old", iat=-300),
            prf("proof 1 hour old", iat=-3600),
            prf("proof 5 minutes ahead", iat=300),
        ],
        ["MCPA-VER-021"],
    )


@check(
    "dpop_ath",
    "A proof without ath or with the hash of another token is rejected",
    ["MCPA-VER-022"],
)
def _ath(run: VerifierRun) -> None:
    run_cases(
        run,
        [prf("no ath", ath="missing"), prf("ath of another token", ath="wrong")],
        ["MCPA-VER-022"],
    )


@check(
    "dpop_nonce_ignored",
    "A nonce claim in a proof is ignored: no server nonce is required",
    ["MCPA-VER-035"],
)
def _nonce(run: VerifierRun) -> None:
    run_cases(
        run,
        [prf("valid: proof with a nonce claim", ops=(Op("set", "claims", "nonce", "n-1234"),))],
        ["MCPA-VER-001"],
    )


@check(
    "dpop_wrong_key",
    "A valid proof by a key other than cnf.jkt is rejected",
    ["MCPA-VER-023", "MCPA-TOK-006"],
)
def _wrong_key(run: VerifierRun) -> None:
    run_cases(run, [prf("proof by another key", key="other")], ["MCPA-VER-023"])


@check(
    "dpop_wrong_key_not_recorded",
    "A proof by a key other than cnf.jkt fails the key binding every time it is sent: the "
    "replay check comes after it, so the proof never occupies the replay cache",
    ["MCPA-VER-023", "MCPA-VER-024"],
)
def _wrong_key_twice(run: VerifierRun) -> None:
    now = int(time.time())
    wire = materialize(prf("proof by another key", key="other"), run.target, now)
    req = oracle.Request(run.target.method, run.target.url, wire.authorization, wire.dpop)
    for attempt in ("first send", "second send"):
        expected = oracle.expect(req, run.ctx, now)
        resp = send(run, wire.authorization, wire.dpop)
        problem = mismatch(expected, resp)
        if problem:
            raise Failed(
                f"{attempt}: {problem}",
                report_case(wire, resp, f"{attempt} of one proof signed by a key not cnf.jkt"),
            )


@check("dpop_replay", "A replayed proof (same jti) is rejected", ["MCPA-VER-024"])
def _replay(run: VerifierRun) -> None:
    now = int(time.time())
    wire = materialize(Case(proof=ProofRecipe(iat=-2)), run.target, now)
    req = oracle.Request(run.target.method, run.target.url, wire.authorization, wire.dpop)
    for attempt in ("first use", "replay"):
        expected = oracle.expect(req, run.ctx, now)
        resp = send(run, wire.authorization, wire.dpop)
        problem = mismatch(expected, resp, run.target.success_status)
        if problem:
            raise Failed(
                f"{attempt}: {problem}",
                report_case(wire, resp, f"{attempt} of the same token and proof"),
            )
    if not run.target.required_scope:
        return
    # A proof that passed step 12 is used up even when step 14 refuses the request (403).
    wire = materialize(valid("lacks scope", scope="unrelated:scope"), run.target, now)
    req = oracle.Request(run.target.method, run.target.url, wire.authorization, wire.dpop)
    for attempt in ("first use (403)", "replay after a 403"):
        expected = oracle.expect(req, run.ctx, now)
        resp = send(run, wire.authorization, wire.dpop)
        problem = mismatch(expected, resp)
        if problem:
            raise Failed(
                f"{attempt}: {problem}",
                report_case(wire, resp, f"{attempt} of the same token and proof"),
            )


# -- steps 13-15: chain, scope, status --------------------------------------------------------


@check(
    "chain_malformed",
    "Chains that break the grammar or misname the holder are rejected",
    ["MCPA-VER-025", "MCPA-TOK-022", "MCPA-TOK-024"],
)
def _chain(run: VerifierRun) -> None:
    a, m, t = ("agent", "agent-a", "model-m"), ("model", "model-m"), ("tool", "tool-t")
    chains = {
        "no agent hop": (t,),
        "two agents": (a, a),
        "tool before the agent": (t, a),
        "draft-00 model hop over the agent": (("agent", "agent-a"), m),
        "draft-00 chain agent, model, tool": (("agent", "agent-a"), m, t),
        "model first": (m, a),
        "unknown actor_type": (a, ("robot", "r2")),
    }
    cases = [tok(k, chain=v) for k, v in chains.items()]
    cases += [
        tok("client_id is not the holder", C("client_id", "somebody-else")),
        tok("client_id is an inner hop (the agent)", C("client_id", "agent-a"), chain=(a, t)),
        tok("hop without sub", D("act.sub")),
        tok("hop sub is a number", C("act.sub", 5)),
        tok("inner act is a string", C("act.act", "agent-a")),
        tok('"act": null on the innermost hop', C("act.act.act", None)),
        tok("mcpa_model is a number", C("act.mcpa_model", 5)),
    ]
    run_cases(run, cases, ["MCPA-VER-025", "MCPA-VER-013"])


@check(
    "chain_depth",
    "A chain deeper than the maximum is rejected; the maximum is accepted",
    ["MCPA-VER-026"],
)
def _depth(run: VerifierRun) -> None:
    base: tuple[tuple[str, ...], ...] = (("agent", "a", "m"),)
    run_cases(
        run,
        [
            valid(
                "valid: depth 5 (maximum)", chain=base + tuple(("tool", f"t{i}") for i in range(4))
            ),
            tok("depth 6", chain=base + tuple(("tool", f"t{i}") for i in range(5))),
            tok("depth 12", chain=base + tuple(("tool", f"t{i}") for i in range(11))),
        ],
        ["MCPA-VER-026"],
    )


@check(
    "unknown_members_ignored",
    "Claims the spec does not define and extra members of a hop are ignored: the token is accepted",
    ["MCPA-TOK-018", "MCPA-TOK-020", "MCPA-TOK-021", "MCPA-VER-001"],
)
def _unknown_members(run: VerifierRun) -> None:
    run_cases(
        run,
        [
            valid("valid: an unknown string claim", ops=(C("x_vendor_note", "hello"),)),
            valid(
                "valid: an unknown object claim",
                ops=(C("x_vendor_ext", {"region": "eu", "n": [1, 2]}),),
            ),
            valid("valid: an unknown member in the outermost hop", ops=(C("act.x_note", "n"),)),
            valid("valid: an unknown member in an inner hop", ops=(C("act.act.x_trace", "t-1"),)),
            valid(
                "valid: another status mechanism beside mcpa_grant_list",
                ops=(C("status.status_list", {"idx": 3, "uri": "https://other.example/s"}),),
            ),
        ],
        ["MCPA-VER-001"],
    )


@check(
    "revoked_grant",
    "A token under a revoked grant (status bit set) is rejected",
    ["MCPA-VER-028", "MCPA-REV-001", "MCPA-REV-003"],
)
def _revoked(run: VerifierRun) -> None:
    run_cases(
        run,
        [
            tok("grant revoked", status_idx=-1),
            tok(
                "grant revoked, tool hop",
                status_idx=-2,
                chain=(("agent", "a", "m"), ("tool", "t1"), ("tool", "t2")),
            ),
        ],
        ["MCPA-VER-028"],
    )


@check(
    "status_outside_issuer",
    "A status URI outside the issuer is rejected and never fetched",
    ["MCPA-VER-028", "MCPA-SEC-002"],
)
def _status_outside(run: VerifierRun) -> None:
    before = len(run.issuer.canary_hits())
    try:
        run_cases(
            run,
            [
                tok(
                    "status uri at another origin",
                    C("status.mcpa_grant_list.uri", "$canary_status"),
                ),
                tok(
                    "status uri with // after the issuer",
                    C("status.mcpa_grant_list.uri", "$issuer_double_slash"),
                ),
                tok(
                    "status uri with a mixed-case %2E%2e segment",
                    C("status.mcpa_grant_list.uri", "$issuer_pct_dot_segment"),
                ),
                tok("status uri with a space", C("status.mcpa_grant_list.uri", "$issuer_space")),
                tok(
                    "status uri over 2048 characters",
                    C("status.mcpa_grant_list.uri", "$issuer_long"),
                ),
            ],
            ["MCPA-VER-028"],
        )
    finally:
        canary_guard(run, before, "status URI")


@check(
    "status_unavailable",
    "When the status list cannot be fetched the verifier fails closed with 503",
    ["MCPA-VER-029"],
)
def _status_unavailable(run: VerifierRun) -> None:
    run_cases(
        run,
        [
            tok(
                "status list answers 503",
                C("status.mcpa_grant_list.uri", "$issuer_status_unavailable"),
            )
        ],
        ["MCPA-VER-029"],
    )


@check(
    "status_redirect_not_followed",
    "A status list URI answering with a redirect is a retrieval failure: 503, never followed",
    ["MCPA-VER-039", "MCPA-VER-029", "MCPA-SEC-002"],
)
def _status_redirect(run: VerifierRun) -> None:
    before = len(run.issuer.canary_hits())
    try:
        run_cases(
            run,
            [
                tok(
                    "status list answers 302 to the canary",
                    C("status.mcpa_grant_list.uri", "$issuer_status_redirect"),
                )
            ],
            ["MCPA-VER-029"],
        )
    finally:
        canary_guard(run, before, "status redirect")


@check(
    "retry_after",
    "A 503 temporarily_unavailable answer carries Retry-After",
    ["MCPA-VER-044"],
    severity="SHOULD",
)
def _retry_after(run: VerifierRun) -> None:
    wire = materialize(
        tok(
            "status list answers 503", C("status.mcpa_grant_list.uri", "$issuer_status_unavailable")
        ),
        run.target,
    )
    resp = send(run, wire.authorization, wire.dpop)
    if resp.status_code != 503:
        raise Skipped(
            f"the verifier answered HTTP {resp.status_code}, not 503 (see "
            "verifier.status_unavailable)"
        )
    if not resp.headers.get("retry-after", "").strip().isdigit():
        raise Failed("503 without a Retry-After field (seconds)", report_case(wire, resp, ""))


@check(
    "status_stale",
    "A status list token older than mcpa_status_list_max_age is not used: the verifier fails "
    "closed with 503",
    ["MCPA-VER-029"],
)
def _status_stale(run: VerifierRun) -> None:
    run_cases(
        run,
        [
            tok(
                "status list token issued an hour ago",
                C("status.mcpa_grant_list.uri", "$issuer_status_stale"),
            )
        ],
        ["MCPA-VER-029"],
    )


@check(
    "status_list_size_limits",
    "A status list whose response body exceeds 1 MiB, or whose lst inflates beyond 1 MiB, is "
    "not usable: the verifier fails closed with 503",
    ["MCPA-VER-043", "MCPA-VER-029"],
)
def _status_size(run: VerifierRun) -> None:
    # Each URI is served here for the first time; its list is signed, fresh and has every bit
    # 0, so a verifier that ignored the size limits would accept the token.
    run_cases(
        run,
        [
            tok(
                "status list response body over 1 MiB (MCPA-VER-043)",
                C("status.mcpa_grant_list.uri", "$issuer_status_oversize"),
            ),
            tok(
                "status list lst inflating beyond 1 MiB (MCPA-VER-043)",
                C("status.mcpa_grant_list.uri", "$issuer_status_inflates_too_far"),
            ),
        ],
        ["MCPA-VER-029"],
    )


# -- generated cases -----------------------------------------------------------------------------


def run_property(
    strategy: st.SearchStrategy[Case],
    run: VerifierRun,
    max_examples: int,
    requirements: tuple[str, ...] | None = None,
) -> int:
    """Run a Hypothesis property; on failure raise :class:`Failed` with the shrunk case."""
    count = [0]

    @seed(run.seed)
    @settings(
        max_examples=max_examples,
        database=None,
        deadline=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        report_multiple_bugs=False,
        print_blob=False,
    )
    @given(strategy)
    def prop(case: Case) -> None:
        count[0] += 1
        try:
            run_case(run, case, requirements)
        except oracle.Indeterminate:
            assume(False)

    hypo.run(prop, run.profile.shrink_seconds)
    return count[0]


@check(
    "generated_valid_tokens",
    "Generated valid tokens (chains, scopes, algorithms, times) are accepted",
    ["MCPA-VER-001"],
)
def _gen_valid(run: VerifierRun) -> None:
    strat = strategies.valid_tokens(run.target.required_scope).map(
        lambda t: Case(token=t, proof=ProofRecipe(iat=-2), label="generated valid token")
    )
    run_property(strat, run, run.profile.valid_examples)


GENERATED_REQS = [
    "MCPA-VER-001",
    "MCPA-VER-003",
    "MCPA-VER-006",
    "MCPA-VER-007",
    "MCPA-VER-008",
    "MCPA-VER-009",
    "MCPA-VER-010",
    "MCPA-VER-011",
    "MCPA-VER-012",
    "MCPA-VER-013",
    "MCPA-VER-014",
    "MCPA-VER-015",
    "MCPA-VER-016",
    "MCPA-VER-017",
    "MCPA-VER-018",
    "MCPA-VER-019",
    "MCPA-VER-020",
    "MCPA-VER-021",
    "MCPA-VER-022",
    "MCPA-VER-023",
    "MCPA-VER-025",
    "MCPA-VER-026",
    "MCPA-VER-027",
    "MCPA-VER-028",
    "MCPA-VER-029",
]


@check(
    "generated_mutations",
    "Generated mutations of header, claims, signature, chain and proof "
    "get the answer the verification algorithm prescribes, in its order",
    GENERATED_REQS,
)
def _gen_mutations(run: VerifierRun) -> None:
    before = len(run.issuer.canary_hits())
    per_area = max(1, run.profile.mutation_examples // len(strategies.AREAS))
    try:
        for area in strategies.AREAS:
            run_property(strategies.mutated_cases(run.target.required_scope, area), run, per_area)
    finally:
        canary_guard(run, before, "generated case")


@check(
    "resource_metadata_everywhere",
    "Every 401 and 403 answer of the whole run named resource_metadata in its challenge",
    ["MCPA-DSC-006", "MCPA-VER-030"],
)
def _metadata_everywhere(run: VerifierRun) -> None:
    if run.missing_metadata:
        raise Failed(
            f"{len(run.missing_metadata)} 401/403 answer(s) without resource_metadata in "
            "WWW-Authenticate; the first is shown",
            run.missing_metadata[0],
        )


@check(
    "canary_never_reached",
    "No request of the whole run made the verifier fetch a URL named in a token",
    ["MCPA-SEC-001", "MCPA-SEC-002"],
)
def _canary(run: VerifierRun) -> None:
    canary_guard(run, 0, "during the run")
