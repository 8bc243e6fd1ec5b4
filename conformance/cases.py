"""A verifier test case as data: a token recipe, a proof recipe, and how it is sent.

Recipes use times relative to the moment of sending, so a case shrunk by Hypothesis and
replayed later still means the same thing. :func:`materialize` turns a case into the exact
header values sent; the oracle then judges those bytes, not the recipe.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

from mcp_auth.conformance import jose
from mcp_auth.conformance.framework import SUCCESS_2XX
from mcp_auth.conformance.suite_issuer import SuiteIssuer

_DELETE = object()


@dataclass(frozen=True)
class Op:
    """One mutation. ``path`` is a dotted path into the header or claims."""

    kind: str  # "set" | "del" | "time"
    target: str  # "header" | "claims"
    path: str
    value: Any = None

    def __str__(self) -> str:
        if self.kind == "del":
            return f"del {self.target}.{self.path}"
        if self.kind == "time":
            return f"{self.target}.{self.path} = now{self.value:+d}"
        return f"{self.target}.{self.path} = {json.dumps(self.value)}"


@dataclass(frozen=True)
class TokenRecipe:
    alg: str = "ES256"
    scope: str = ""
    # innermost first: (actor_type, sub) or (actor_type, sub, mcpa_model)
    chain: tuple[tuple[str, ...], ...] = ()
    status_idx: int = 7
    iat: int = -30
    exp: int = 240
    ops: tuple[Op, ...] = ()
    # How it is signed/serialised: "ok", "none", "hmac-public", "attacker", "flip:N",
    # "zero", "der", "truncate", "empty", "extra-segment", "drop-segment", "bad-b64",
    # "padding", "non-canonical", "dup-claim", "json-whitespace", "oversize", "wrong-key-type"
    signature: str = "ok"


@dataclass(frozen=True)
class ProofRecipe:
    present: bool = True
    key: str = "holder"  # "holder" | "other"
    htm: str | None = None  # None = the request's method
    htu: str | None = None  # None = the request's URL
    iat: int = -2
    ath: str = "ok"  # "ok" | "missing" | "wrong"
    ops: tuple[Op, ...] = ()
    signature: str = "ok"  # "ok" | "flip" | "none" | "private-jwk" | "foreign-key"


@dataclass(frozen=True)
class Case:
    token: TokenRecipe = field(default_factory=TokenRecipe)
    proof: ProofRecipe = field(default_factory=ProofRecipe)
    scheme: str = "DPoP"
    label: str = ""


@dataclass
class Wire:
    """The materialized case: what goes on the wire, plus decoded views for the report."""

    authorization: list[str]
    dpop: list[str]
    token: str
    proof: str | None
    header: Any
    claims: Any
    holder: jose.Key


def resolve(value: Any, issuer: SuiteIssuer) -> Any:
    """Placeholders in recipes that depend on the running suite issuer."""
    if value == "$attacker_jwk":
        return issuer.attacker.public_jwk()
    if value == "$canary_jwks":
        return issuer.canary_url + "/jwks"
    if value == "$canary_status":
        return issuer.canary_url + "/status/1"
    if value == "$issuer_status_unavailable":
        return issuer.status_uri("unavailable")
    if value == "$issuer_status_redirect":
        return issuer.status_uri("redirect")
    if value == "$issuer_status_stale":
        return issuer.status_uri("stale")
    if value == "$issuer_status_oversize":
        return issuer.status_uri("oversize")
    if value == "$issuer_status_inflates_too_far":
        return issuer.status_uri("inflates-too-far")
    if value == "$issuer_slash":
        return issuer.url + "/"
    if value == "$issuer_double_slash":
        return issuer.url + "//status/1"
    if value == "$issuer_pct_dot_segment":
        return issuer.url + "/status/%2E%2e/status/1"
    if value == "$issuer_space":
        return issuer.url + "/status/a b"
    if value == "$issuer_long":
        return issuer.url + "/status/" + "a" * 2048
    return value


def _apply(obj: dict[str, Any], op: Op, now: int, issuer: SuiteIssuer) -> None:
    parts = op.path.split(".")
    node: Any = obj
    for part in parts[:-1]:
        if not isinstance(node, dict):
            return
        node = node.setdefault(part, {}) if op.kind != "del" else node.get(part)
    if not isinstance(node, dict):
        return
    last = parts[-1]
    if op.kind == "del":
        node.pop(last, None)
    elif op.kind == "time":
        node[last] = now + int(op.value)
    else:
        node[last] = copy.deepcopy(resolve(op.value, issuer))


def build_act(chain: tuple[tuple[str, ...], ...]) -> dict[str, Any] | None:
    act: dict[str, Any] | None = None
    for actor_type, sub, *model in chain:
        hop: dict[str, Any] = {"actor_type": actor_type, "sub": sub}
        if model:
            hop["mcpa_model"] = model[0]
        if act is not None:
            hop["act"] = act
        act = hop
    return act


def holder_of(chain: tuple[tuple[str, ...], ...]) -> str:
    """The current actor: the outermost hop's ``sub`` (RFC 8693 section 4.1)."""
    return chain[-1][1] if chain else "nobody"


@dataclass
class Target:
    """The verifier under test, as the cases need it."""

    issuer: SuiteIssuer
    resource: str
    url: str
    method: str
    required_scope: str
    user: str = "alice"
    grant_id: str = "grt_suite_0001"
    # The statuses that count as accepted ([verifier] success_status; any 2xx by default).
    success_status: frozenset[int] = SUCCESS_2XX


def default_chain() -> tuple[tuple[str, ...], ...]:
    return (("agent", "agent-1", "model-1"), ("tool", "tool-1"))


def materialize(case: Case, target: Target, now: int | None = None) -> Wire:
    now = int(time.time()) if now is None else now
    iss = target.issuer
    holder = jose.Key.generate("ES256")
    t = case.token
    chain = t.chain or default_chain()
    # A negative index asks for one of the pre-revoked indices (see suite_issuer).
    idx = t.status_idx if t.status_idx >= 0 else iss.revoked_pool[-t.status_idx - 1]
    claims: dict[str, Any] = {
        "iss": iss.url,
        "sub": target.user,
        "aud": target.resource,
        "client_id": holder_of(chain),
        "iat": now + t.iat,
        "exp": now + t.exp,
        "jti": jose.random_id(),
        "scope": t.scope or target.required_scope,
        "grant_id": target.grant_id,
        "cnf": {"jkt": holder.thumbprint()},
        "status": {"mcpa_grant_list": {"idx": idx, "uri": iss.status_uri()}},
        "act": build_act(chain),
    }
    signer = iss.signing_key(t.alg)
    # The deprecated EdDSA (RFC 9864) names the same Ed25519 key: only the header differs.
    alg = t.alg if t.alg in jose.ED25519_ALGS else signer.alg
    header: dict[str, Any] = {"alg": alg, "typ": "mcpa+jwt", "kid": signer.kid}
    for op in t.ops:
        _apply(header if op.target == "header" else claims, op, now, iss)
    token = sign_token(header, claims, signer, t.signature, iss)
    proof: str | None = None
    dpop: list[str] = []
    if case.proof.present:
        proof = build_proof(case.proof, token, target, holder, now)
        dpop = [proof]
    return Wire([f"{case.scheme} {token}"], dpop, token, proof, header, claims, holder)


def sign_token(
    header: dict[str, Any], claims: dict[str, Any], signer: jose.Key, how: str, iss: SuiteIssuer
) -> str:
    h_json = json.dumps(header, separators=(",", ":"))
    c_json = json.dumps(claims, separators=(",", ":"))
    if how == "dup-claim":
        # A duplicate member name: "iss" once wrong, once right (parsers differ on which wins).
        c_json = '{"iss":"https://evil.example",' + c_json[1:]
    if how == "json-whitespace":  # insignificant whitespace around the JSON text (RFC 8259)
        c_json = " \n" + c_json + "\t\r\n"
    if how == "oversize":
        claims = dict(claims, padding="x" * 9000)
        c_json = json.dumps(claims, separators=(",", ":"))
    h64 = jose.b64u(h_json.encode())
    c64 = jose.b64u(c_json.encode())
    signing_input = f"{h64}.{c64}"
    if how == "none":
        return signing_input + "."
    if how == "hmac-public":
        secret = json.dumps(signer.public_jwk(), separators=(",", ":")).encode()
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        return signing_input + "." + jose.b64u(mac)
    if how == "attacker":
        return signing_input + "." + jose.b64u(iss.attacker.sign(signing_input.encode()))
    if how == "wrong-key-type":
        other = iss.eddsa if signer.alg == "ES256" else iss.es256
        return signing_input + "." + jose.b64u(other.sign(signing_input.encode()))
    sig = signer.sign(signing_input.encode())
    if how.startswith("flip:"):
        bit = int(how.split(":", 1)[1]) % (len(sig) * 8)
        flipped = bytearray(sig)
        flipped[bit // 8] ^= 1 << (bit % 8)
        return signing_input + "." + jose.b64u(bytes(flipped))
    if how == "zero":
        return signing_input + "." + jose.b64u(bytes(64))
    if how == "der":  # for an Ed25519 token: a DER ECDSA signature is just as wrong
        return signing_input + "." + jose.b64u(iss.es256.sign_der(signing_input.encode()))
    if how == "truncate":
        return signing_input + "." + jose.b64u(sig[:-1])
    if how == "empty":
        return signing_input + "."
    if how == "extra-segment":
        return signing_input + "." + jose.b64u(sig) + "." + jose.b64u(sig)
    if how == "drop-segment":
        return signing_input
    if how == "bad-b64":
        # "+" and "/" are legal token68 but not base64url: standard-alphabet signature.
        std = base64.b64encode(sig).decode().rstrip("=")
        if "+" not in std and "/" not in std:
            std = std[:-1] + "+"
        return signing_input + "." + std
    if how == "padding":
        return signing_input + "." + jose.b64u(sig) + "=="
    if how == "non-canonical":
        # 64 bytes end in a 2-character quantum whose last character carries 4 unused bits:
        # set one of them (RFC 4648 section 3.5). Decoders that ignore them see the same bytes.
        text = jose.b64u(sig)
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        return signing_input + "." + text[:-1] + alphabet[alphabet.index(text[-1]) | 1]
    return signing_input + "." + jose.b64u(sig)


def build_proof(p: ProofRecipe, token: str, target: Target, holder: jose.Key, now: int) -> str:
    key = holder if p.key == "holder" else jose.Key.generate("ES256")
    header: dict[str, Any] = {
        "typ": "dpop+jwt",
        "alg": key.alg,
        "jwk": key.public_jwk(with_meta=False),
    }
    claims: dict[str, Any] = {
        "jti": jose.random_id(),
        "htm": p.htm if p.htm is not None else target.method,
        "htu": p.htu if p.htu is not None else target.url,
        "iat": now + p.iat,
    }
    if p.ath == "ok":
        claims["ath"] = jose.ath(token)
    elif p.ath == "wrong":
        claims["ath"] = jose.ath(token + "x")
    if p.signature == "private-jwk":
        header["jwk"] = key.private_jwk()
    for op in p.ops:
        _apply(header if op.target == "header" else claims, op, now, target.issuer)
    signing_input = jose.b64u_json(header) + "." + jose.b64u_json(claims)
    if p.signature == "none":
        return signing_input + "."
    signer = jose.Key.generate("ES256") if p.signature == "foreign-key" else key
    sig = signer.sign(signing_input.encode())
    if p.signature == "flip":
        sig = bytes([sig[0] ^ 1]) + sig[1:]
    return signing_input + "." + jose.b64u(sig)
