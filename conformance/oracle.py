"""The oracle: the spec's verification algorithm (CONTRACT.md section 4), small and readable.

Given exactly what the suite is about to send to a resource server (method, URL, the
``Authorization`` and ``DPoP`` header values) and what the suite's own issuer knows (keys,
status bits), :func:`expect` says what a conformant verifier must answer: the HTTP status
and the OAuth ``error`` code, plus the requirement ID of the rule that decides it.

The rules run in the spec's order and the first failure wins (MCPA-VER-001). Each rule is
tagged with its requirement ID. Where a correct verifier may legitimately go either way
(clock skew is anything up to 60 s, so a claim a few seconds past a bound), the oracle
raises :class:`Indeterminate` and the generator discards that input: the suite never
tests right at an edge.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from mcp_auth.conformance import jose

TOKEN_TYPS = ("mcpa+jwt", "application/mcpa+jwt")
PROOF_TYPS = ("dpop+jwt", "application/dpop+jwt")
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
MAX_TOKEN_BYTES = 8192
MAX_PROOF_BYTES = 4096
ACTOR_TYPES = ("agent", "tool")  # draft-01: the model is a hop's `mcpa_model`, not a hop

# token68 (RFC 7235 section 2.1): what may follow the scheme in a well-formed header.
_TOKEN68 = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")


class Indeterminate(Exception):
    """The input sits in a band where a conformant verifier may decide either way."""


@dataclass(frozen=True)
class Expectation:
    """What a conformant verifier answers. ``error`` is None for success and for the bare
    challenge of a request without credentials."""

    status: int
    error: str | None
    requirement: str
    reason: str
    scope: str | None = None
    # Other answers that are equally conformant (e.g. where two spec rows overlap).
    alternatives: tuple[tuple[int, str | None], ...] = ()

    @property
    def accepted(self) -> bool:
        return self.status == 200

    def allows(self, status: int, error: str | None) -> bool:
        return (status, error) == (self.status, self.error) or (status, error) in self.alternatives


def ok(reason: str = "valid token and proof") -> Expectation:
    return Expectation(200, None, "MCPA-VER-001", reason)


def _invalid_token(requirement: str, reason: str) -> Expectation:
    return Expectation(401, "invalid_token", requirement, reason)


def _invalid_proof(requirement: str, reason: str) -> Expectation:
    return Expectation(401, "invalid_dpop_proof", requirement, reason)


@dataclass
class VerifierContext:
    """What the oracle knows about the verifier under test and the suite's issuer."""

    issuer: str
    resource: str
    required_scope: str
    jwks: dict[str, Any]
    # status(uri, idx) -> True revoked, False valid, None list unavailable (fail closed).
    status: Callable[[str, int], bool | None]
    max_depth: int = 5
    max_lifetime: int = 300
    skew_max: int = 60  # the largest skew a conformant verifier may allow
    proof_max_age: int = 60
    margin: int = 15  # distance from any edge inside which the oracle will not decide
    seen_proof_jtis: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    authorization: Sequence[str] = ()
    dpop: Sequence[str] = ()


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def normalise_url(url: str) -> str:
    """RFC 3986 syntax-based normalisation used for ``htu``: lower-case scheme and host,
    default port removed, empty path -> "/", query and fragment dropped."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port is not None and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    return urlunsplit((scheme, host, parts.path or "/", "", ""))


# -- the rules, in order ----------------------------------------------------------------


def _required_claims(claims: dict[str, Any]) -> str | None:
    """MCPA-VER-013 / MCPA-TOK-004: the reason a claim is missing or mistyped, else None."""
    for name in ("iss", "sub", "aud", "client_id", "jti", "scope", "grant_id"):
        if not isinstance(claims.get(name), str):
            return f"claim {name!r} missing or not a string"
    for name in ("iat", "exp"):
        if not _is_int(claims.get(name)):
            return f"claim {name!r} missing or not an integer"
    if "nbf" in claims and not _is_int(claims["nbf"]):
        return "claim 'nbf' not an integer"
    cnf = claims.get("cnf")
    if not isinstance(cnf, dict) or not isinstance(cnf.get("jkt"), str):
        return "claim 'cnf.jkt' missing or not a string"
    status = claims.get("status")  # MCP-Auth's own mechanism; other members are ignored
    sl = status.get("mcpa_grant_list") if isinstance(status, dict) else None
    if (
        not isinstance(sl, dict)
        or not _is_int(sl.get("idx"))
        or sl["idx"] < 0
        or not isinstance(sl.get("uri"), str)
    ):
        return "claim 'status.mcpa_grant_list' missing or mistyped"
    if not isinstance(claims.get("act"), dict):
        return "claim 'act' missing or not an object"
    return None


def chain_of(act: Any, limit: int = 64) -> list[dict[str, Any]] | None:
    """The hops outermost first, or None when a hop is not an object (or absurdly deep).

    An ``act`` member that is present is a hop: ``"act": null`` is not an object, so it is
    malformed, not absent (MCPA-TOK-022).
    """
    hops: list[dict[str, Any]] = []
    node = act
    while True:
        if not isinstance(node, dict) or len(hops) >= limit:
            return None
        hops.append(node)
        if "act" not in node:
            return hops
        node = node["act"]


def chain_problem(claims: dict[str, Any]) -> str | None:
    """MCPA-VER-025 / MCPA-TOK-022: grammar agent, tool* (innermost first), one hop per
    holder; the outermost hop is the current actor, the holder (RFC 8693 section 4.1)."""
    hops = chain_of(claims.get("act"))
    if hops is None:
        return "a hop is not an object"
    types: list[str] = []
    for hop in hops:
        if not isinstance(hop.get("sub"), str):
            return "hop 'sub' missing or not a string"
        if hop.get("actor_type") not in ACTOR_TYPES:
            return f"unknown actor_type {hop.get('actor_type')!r}"
        if "mcpa_model" in hop and not isinstance(hop["mcpa_model"], str):
            return "hop 'mcpa_model' not a string"
        types.append(hop["actor_type"])
    inner_first = list(reversed(types))
    if inner_first[0] != "agent":
        return "the innermost hop is not the agent"
    if any(t != "tool" for t in inner_first[1:]):
        return "only tools may follow the agent"
    if claims.get("client_id") != hops[0]["sub"]:
        return "client_id is not the outermost actor"
    return None


_PATH_CHARS = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*")


def status_uri_allowed(uri: str, issuer: str) -> bool:
    """MCPA-VER-028: the issuer identifier, exactly one "/", then a path of URI path
    characters (no query, fragment or space), no empty segment, no dot segment (also
    percent-encoded, either case), at most 2048 characters."""
    prefix = issuer if issuer.endswith("/") else issuer + "/"
    if len(uri) > 2048 or not uri.startswith(prefix):
        return False
    rest = uri[len(prefix) :]
    if not _PATH_CHARS.fullmatch(rest) or rest.startswith("/") or "//" in rest:
        return False
    segments = re.sub("%2[eE]", ".", rest).split("/")
    return not any(seg in (".", "..") for seg in segments)


def _time_rules(claims: dict[str, Any], now: int, ctx: VerifierContext) -> Expectation | None:
    """MCPA-VER-016 (bounded skew) and MCPA-VER-017 (lifetime)."""
    m, skew = ctx.margin, ctx.skew_max
    exp, iat = claims["exp"], claims["iat"]
    if exp <= now - skew - m:
        return _invalid_token("MCPA-VER-016", "token expired")
    if exp <= now + m:
        raise Indeterminate("exp near the skew window")
    for name in ("iat", "nbf"):
        value = claims.get(name)
        if value is None:
            continue
        if value > now + skew + m:
            return _invalid_token("MCPA-VER-016", f"{name} in the future")
        if value > now - m:
            raise Indeterminate(f"{name} near now")
    if exp - iat > ctx.max_lifetime:
        return _invalid_token("MCPA-VER-017", "exp - iat exceeds the maximum lifetime")
    return None


def _proof_rules(
    req: Request,
    token: str,
    claims: dict[str, Any],
    now: int,
    ctx: VerifierContext,
) -> tuple[Expectation | None, str | None]:
    """Step 12 (MCPA-VER-018..023, then MCPA-VER-024). Returns (failure, proof jti)."""
    proofs = req.dpop
    if len(proofs) != 1:
        return _invalid_proof("MCPA-VER-018", "no DPoP proof"), None
    proof = proofs[0]
    if len(proof.encode("utf-8")) > MAX_PROOF_BYTES:
        return _invalid_proof("MCPA-VER-018", "proof too large"), None
    try:
        header, pclaims, signing_input, sig = jose.parse_compact(proof)
    except jose.JoseError:
        return _invalid_proof("MCPA-VER-018", "proof does not parse"), None
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in PROOF_TYPS:
        return _invalid_proof("MCPA-VER-018", "proof typ is not dpop+jwt"), None
    if any(name in header for name in ("crit", "jku", "x5u", "x5c")):
        return _invalid_proof("MCPA-VER-018", "proof header carries crit/jku/x5u/x5c"), None
    alg = header.get("alg")
    if alg not in jose.ALLOWED_ALGS:
        return _invalid_proof("MCPA-VER-018", "proof alg not allowed"), None
    jwk = header.get("jwk")
    if not isinstance(jwk, dict) or any(m in jwk for m in PRIVATE_MEMBERS):
        return _invalid_proof("MCPA-VER-018", "proof jwk missing or private"), None
    ops = jwk.get("key_ops", ["verify"])
    if (
        jwk.get("alg", alg) != alg
        or jwk.get("use", "sig") != "sig"
        or not isinstance(ops, list)
        or "verify" not in ops
    ):  # other extra members (kid, y on OKP) are ignored
        return _invalid_proof("MCPA-VER-018", "proof jwk alg/use/key_ops unusable"), None
    if not jose.verify_signature(jwk, str(alg), signing_input, sig):
        return _invalid_proof("MCPA-VER-018", "proof signature invalid"), None
    jti = pclaims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 256 or not _is_int(pclaims.get("iat")):
        return _invalid_proof("MCPA-VER-018", "proof jti/iat missing"), None
    if pclaims.get("htm") != req.method:
        return _invalid_proof("MCPA-VER-019", "htm does not match the method"), None
    htu = pclaims.get("htu")
    if not isinstance(htu, str) or normalise_url(htu) != normalise_url(req.url):
        return _invalid_proof("MCPA-VER-020", "htu does not match the URL"), None
    piat = pclaims["iat"]
    oldest = now - ctx.proof_max_age
    if piat < oldest - ctx.skew_max - ctx.margin or piat > now + ctx.skew_max + ctx.margin:
        return _invalid_proof("MCPA-VER-021", "proof iat outside the window"), None
    if piat < oldest + ctx.margin or piat > now:
        raise Indeterminate("proof iat near the window edge")
    if pclaims.get("ath") != jose.ath(token):
        return _invalid_proof("MCPA-VER-022", "ath does not match the token"), None
    try:
        jkt = jose.jwk_thumbprint(jwk)
    except (jose.JoseError, KeyError):
        return _invalid_proof("MCPA-VER-018", "proof jwk unusable"), None
    # The key binding before the replay check: a wrong-key proof never uses up its jti.
    if jkt != claims["cnf"]["jkt"]:
        return _invalid_token("MCPA-VER-023", "proof key does not match cnf.jkt"), None
    if jti in ctx.seen_proof_jtis:
        return _invalid_proof("MCPA-VER-024", "proof jti replayed"), None
    return None, jti


def expect(req: Request, ctx: VerifierContext, now: int) -> Expectation:
    """The answer a conformant verifier gives to ``req`` at time ``now``."""
    exp, jti = _expect(req, ctx, now)
    if jti is not None:  # step 12 passed: the proof is used up even if step 13-15 fails
        ctx.seen_proof_jtis.add(jti)
    return exp


def _expect(req: Request, ctx: VerifierContext, now: int) -> tuple[Expectation, str | None]:
    # Step 1: extract (MCPA-VER-002, -003, -004, -034).
    if not req.authorization:  # with or without a DPoP field; a token in the query is none
        return Expectation(401, None, "MCPA-VER-002", "no credentials"), None
    if len(req.authorization) > 1:
        return Expectation(400, "invalid_request", "MCPA-VER-004", "repeated Authorization"), None
    if len(req.dpop) > 1 or any("," in d for d in req.dpop):
        return Expectation(400, "invalid_request", "MCPA-VER-004", "repeated DPoP field"), None
    value = req.authorization[0]
    scheme, space, token = value.partition(" ")
    if "," in value or not scheme or not space or not token:  # also "Bearer a,b", "Bearer"
        return Expectation(400, "invalid_request", "MCPA-VER-004", "malformed header"), None
    if scheme.lower() == "bearer":
        return _invalid_token("MCPA-VER-003", "Bearer scheme for a DPoP-bound token"), None
    if scheme.lower() != "dpop" or not _TOKEN68.match(token):
        return Expectation(400, "invalid_request", "MCPA-VER-004", "malformed header"), None
    # Step 2: size (MCPA-VER-005).
    if len(token.encode("utf-8")) > MAX_TOKEN_BYTES:
        return _invalid_token("MCPA-VER-005", "token larger than 8192 bytes"), None
    # Step 3: parse (MCPA-VER-006).
    try:
        header, claims, signing_input, sig = jose.parse_compact(token)
    except jose.JoseError as exc:
        return _invalid_token("MCPA-VER-006", f"token does not parse: {exc}"), None
    # Step 4: typ (MCPA-VER-007).
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in TOKEN_TYPS:
        return _invalid_token("MCPA-VER-007", "wrong typ"), None
    # Step 5: alg allow-list before any key use; no key-fetching headers; no crit.
    alg = header.get("alg")
    if alg not in jose.ALLOWED_ALGS:
        return _invalid_token("MCPA-VER-008", f"alg {alg!r} not allowed"), None
    for name in ("jku", "x5u", "jwk", "x5c"):
        if name in header:
            return _invalid_token("MCPA-VER-009", f"header {name!r} present"), None
    if "crit" in header:
        return _invalid_token("MCPA-VER-010", "crit present"), None
    # Step 6: kid selects exactly one issuer key compatible with alg (MCPA-VER-011).
    kid = header.get("kid")
    keys = [
        k
        for k in ctx.jwks.get("keys", [])
        if isinstance(kid, str) and k.get("kid") == kid and jose.key_matches_alg(k, str(alg))
    ]
    if len(keys) != 1:
        return _invalid_token("MCPA-VER-011", "kid selects no key"), None
    # Step 7: signature (MCPA-VER-012).
    if not jose.verify_signature(keys[0], str(alg), signing_input, sig):
        return _invalid_token("MCPA-VER-012", "bad signature"), None
    # Step 8: required claims and types (MCPA-VER-013).
    problem = _required_claims(claims)
    if problem:
        return _invalid_token("MCPA-VER-013", problem), None
    # Step 9: iss (MCPA-VER-014); step 10: aud (MCPA-VER-015).
    if claims["iss"] != ctx.issuer:
        return _invalid_token("MCPA-VER-014", "wrong iss"), None
    if claims["aud"] != ctx.resource:
        return _invalid_token("MCPA-VER-015", "wrong aud"), None
    # Step 11: time (MCPA-VER-016, -017).
    failure = _time_rules(claims, now, ctx)
    if failure:
        return failure, None
    # Step 12: DPoP proof.
    failure, jti = _proof_rules(req, token, claims, now, ctx)
    if failure:
        return failure, None
    # Step 13: chain (MCPA-VER-025) and depth (MCPA-VER-026).
    problem = chain_problem(claims)
    if problem:
        return _invalid_token("MCPA-VER-025", problem), jti
    hops = chain_of(claims["act"]) or []
    if len(hops) > ctx.max_depth:
        return _invalid_token("MCPA-VER-026", "chain deeper than allowed"), jti
    # Step 14: scope (MCPA-VER-027).
    have = set(claims["scope"].split(" "))
    if not set(ctx.required_scope.split()) <= have:
        return Expectation(
            403,
            "insufficient_scope",
            "MCPA-VER-027",
            "required scope missing",
            scope=ctx.required_scope,
        ), jti
    # Step 15: status (MCPA-VER-028, -029; MCPA-SEC-002).
    sl = claims["status"]["mcpa_grant_list"]
    uri = sl["uri"]
    if not status_uri_allowed(uri, ctx.issuer):
        return _invalid_token("MCPA-VER-028", "status uri outside the issuer"), jti
    revoked = ctx.status(uri, sl["idx"])
    if revoked is None:
        return Expectation(
            503, "temporarily_unavailable", "MCPA-VER-029", "status unavailable"
        ), jti
    if revoked:
        return _invalid_token("MCPA-VER-028", "grant revoked (status bit set)"), jti
    return ok(), jti
