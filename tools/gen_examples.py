"""Generate the signed and derived schema examples from one fixed scenario.

The examples in ``schemas/examples/`` that contain tokens, proofs, assertions, thumbprints,
status list bits or audit hashes must agree with each other the way real protocol objects
do (``tests/schemas/test_schema_examples.py`` checks it). They are all produced here from
one scenario (the grant of spec section 2.1: user ``alice``, agent ``agent-runtime-1`` using
model ``model-large-2026``, tool ``files-tool``, downstream ``https://api.files.example/``)
at a fixed ``NOW``, with the test-only keys in ``tools/example_keys.json``.

Everything is deterministic: ECDSA signatures use RFC 6979 deterministic nonces
(``cryptography``'s ``deterministic_signing``), Ed25519 is deterministic by definition, so
running the script twice gives the same bytes and ``--check`` can be a test.

Usage::

    python tools/gen_examples.py          # rewrite the generated examples
    python tools/gen_examples.py --check  # exit 1 and list files that differ

Growing into Appendix C (signed test vectors): every output is a ``Case`` with a fixed
``now``; a vector is a case that also names its ``expected`` outcome (``accept``, or the
error and the requirement). ``vectors()`` already returns the examples' tokens with their
expected outcome at ``NOW`` so a later script can write them out beside a JWK Set.

The keys are TEST-ONLY example keys: they are public in this repository and must never
protect anything.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import json
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "schemas" / "examples"
KEYS_FILE = Path(__file__).resolve().parent / "example_keys.json"

#: The scenario's clock: every `iat`, `exp` and time below is relative to it.
NOW = 1795000000
ISSUER = "https://issuer.example"
USER = "alice"
AGENT = "agent-runtime-1"
MODEL = "model-large-2026"
TOOL = "files-tool"
TOOL_RESOURCE = "https://mcp.files.example/mcp"
API_RESOURCE = "https://api.files.example/"
GRANT_ID = "grt_s0J0WQYKgjf6V0oyzNa69A"
STATUS_URI = f"{ISSUER}/status/Hq3vTz9mWc1xLr5kNb7aPe"
STATUS_IDX = 48213  # the active grant's entry (grant/valid-active.json)
REVOKED_IDX = 1207  # the revoked grant's entry (grant/valid-revoked.json)
LIST_BITS = 2**17
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"  # noqa: S105
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


# ---- JOSE on cryptography only (no hand-rolled primitives) ------------------------------


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64u_json(value: Any) -> str:
    return b64u(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


@dataclass(frozen=True)
class Key:
    name: str
    jwk: dict[str, str]  # private JWK with kid

    @property
    def alg(self) -> str:
        return "ES256" if self.jwk["kty"] == "EC" else "Ed25519"

    @property
    def kid(self) -> str:
        return self.jwk["kid"]

    def public(self) -> dict[str, str]:
        """The key members only (the form a DPoP proof carries)."""
        names = ("kty", "crv", "x", "y") if self.jwk["kty"] == "EC" else ("kty", "crv", "x")
        return {n: self.jwk[n] for n in names}

    def thumbprint(self) -> str:
        canonical = json.dumps(self.public(), sort_keys=True, separators=(",", ":"))
        return b64u(hashlib.sha256(canonical.encode("ascii")).digest())

    def sign(self, header: dict[str, Any], claims: dict[str, Any]) -> str:
        head = {"alg": self.alg, **header}
        signing_input = f"{b64u_json(head)}.{b64u_json(claims)}".encode("ascii")
        d = b64u_decode(self.jwk["d"])
        if self.alg == "ES256":
            private = ec.derive_private_key(int.from_bytes(d, "big"), ec.SECP256R1())
            der = private.sign(signing_input, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
            r, s = decode_dss_signature(der)
            sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        else:
            sig = ed25519.Ed25519PrivateKey.from_private_bytes(d).sign(signing_input)
        return f"{signing_input.decode('ascii')}.{b64u(sig)}"


def load_keys(path: Path = KEYS_FILE) -> dict[str, Key]:
    data = json.loads(path.read_text("utf-8"))
    return {name: Key(name, jwk) for name, jwk in data["keys"].items()}


def new_keys() -> dict[str, Any]:
    """Fresh test-only keys in the shape of ``example_keys.json`` (run once, checked in)."""

    def ec_jwk(kid: str) -> dict[str, str]:
        private = ec.generate_private_key(ec.SECP256R1())
        nums = private.private_numbers()
        pub = nums.public_numbers
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64u(pub.x.to_bytes(32, "big")),
            "y": b64u(pub.y.to_bytes(32, "big")),
            "d": b64u(nums.private_value.to_bytes(32, "big")),
            "kid": kid,
        }

    def ed_jwk(kid: str) -> dict[str, str]:
        private = ed25519.Ed25519PrivateKey.generate()
        raw = private.private_bytes(ser.Encoding.Raw, ser.PrivateFormat.Raw, ser.NoEncryption())
        x = private.public_key().public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64u(x), "d": b64u(raw), "kid": kid}

    return {
        "_comment": "TEST-ONLY example keys for tools/gen_examples.py. Public: never use them.",
        "keys": {
            "issuer": ec_jwk("issuer-2026-11"),
            "issuer_ed25519": ed_jwk("issuer-2026-11-ed"),
            "agent_auth": ec_jwk("agent-runtime-1-2026"),
            "tool_auth": ec_jwk("files-tool-2026"),
            "agent_dpop": ec_jwk("agent-dpop"),
            "tool_dpop": ec_jwk("tool-dpop"),
        },
    }


# ---- the scenario -----------------------------------------------------------------------


@dataclass
class Scenario:
    keys: dict[str, Key]

    def status(self) -> dict[str, Any]:
        return {"mcpa_grant_list": {"idx": STATUS_IDX, "uri": STATUS_URI}}

    def agent_act(self) -> dict[str, Any]:
        return {"actor_type": "agent", "sub": AGENT, "mcpa_model": MODEL}

    def tool_act(self) -> dict[str, Any]:
        return {"actor_type": "tool", "sub": TOOL, "act": self.agent_act()}

    def token_header(self, key: str = "issuer") -> dict[str, Any]:
        k = self.keys[key]
        return {"alg": k.alg, "typ": "mcpa+jwt", "kid": k.kid}

    def initial_claims(self) -> dict[str, Any]:
        return {
            "iss": ISSUER,
            "sub": USER,
            "aud": TOOL_RESOURCE,
            "client_id": AGENT,
            "iat": NOW,
            "exp": NOW + 300,
            "jti": "tok_Btmq_af2cQCT9kCWivKXXw",
            "scope": "files:read files:write",
            "grant_id": GRANT_ID,
            "cnf": {"jkt": self.keys["agent_dpop"].thumbprint()},
            "status": self.status(),
            "act": self.agent_act(),
        }

    def exchanged_claims(self) -> dict[str, Any]:
        return {
            **self.initial_claims(),
            "aud": API_RESOURCE,
            "client_id": TOOL,
            "iat": NOW + 12,
            "jti": "tok_GEc_szLNHppUhQvnx1gGrA",
            "scope": "files:read",
            "cnf": {"jkt": self.keys["tool_dpop"].thumbprint()},
            "act": self.tool_act(),
        }

    def initial_token(self) -> str:
        return self.keys["issuer"].sign({"typ": "mcpa+jwt", "kid": self.keys["issuer"].kid},
                                        self.initial_claims())  # fmt: skip

    def assertion_claims(self, client: str, iat: int, jti: str) -> dict[str, Any]:
        return {"iss": client, "sub": client, "aud": ISSUER, "iat": iat, "exp": iat + 60,
                "jti": jti}  # fmt: skip

    def assertion(self, key: str, claims: dict[str, Any]) -> str:
        k = self.keys[key]
        return k.sign({"kid": k.kid, "typ": "JWT"}, claims)

    def proof_header(self, key: str) -> dict[str, Any]:
        k = self.keys[key]
        return {"typ": "dpop+jwt", "alg": k.alg, "jwk": k.public()}

    def token_endpoint_proof(self) -> dict[str, Any]:
        return {"jti": "dp_kUR-YzxUDZILLp4BdUxYZw", "htm": "POST",
                "htu": f"{ISSUER}/token", "iat": NOW - 1}  # fmt: skip

    def resource_proof(self) -> dict[str, Any]:
        ath = b64u(hashlib.sha256(self.initial_token().encode("ascii")).digest())
        return {"jti": "dp_Y8JLp5RBiyzbW42lzdK4Dw", "htm": "POST", "htu": TOOL_RESOURCE,
                "iat": NOW + 5, "ath": ath}  # fmt: skip

    def agent_assertion_claims(self) -> dict[str, Any]:
        return self.assertion_claims(AGENT, NOW - 1, "ca_5bqh3dS4rk3n5SAFIkN8nw")

    def tool_assertion_claims(self) -> dict[str, Any]:
        return self.assertion_claims(TOOL, NOW + 11, "ca_HW_Zt3fH0k4TJ2J9kVNJnA")

    def grant_request(self) -> dict[str, Any]:
        return {
            "grant_type": "urn:ietf:params:oauth:grant-type:mcpa-grant",
            "grant_id": GRANT_ID,
            "resource": TOOL_RESOURCE,
            "actor_model": MODEL,
            "scope": "files:read files:write",
            "client_assertion_type": JWT_BEARER,
            "client_assertion": self.assertion("agent_auth", self.agent_assertion_claims()),
        }

    def exchange_request(self) -> dict[str, Any]:
        return {
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": self.initial_token(),
            "subject_token_type": ACCESS_TOKEN_TYPE,
            "resource": API_RESOURCE,
            "scope": "files:read",
            "requested_token_type": ACCESS_TOKEN_TYPE,
            "client_assertion_type": JWT_BEARER,
            "client_assertion": self.assertion("tool_auth", self.tool_assertion_claims()),
        }

    def token_response(self) -> dict[str, Any]:
        return {
            "access_token": self.initial_token(),
            "token_type": "DPoP",
            "expires_in": 300,
            "scope": "files:read files:write",
            "issued_token_type": ACCESS_TOKEN_TYPE,
            "grant_id": GRANT_ID,
        }

    def introspection(self) -> dict[str, Any]:
        c = self.exchanged_claims()
        names = ("iss", "sub", "aud", "client_id", "scope", "exp", "iat", "jti", "grant_id",
                 "act", "cnf")  # fmt: skip
        return {"active": True, **{n: c[n] for n in names}, "token_type": "DPoP"}

    def status_list_claims(self) -> dict[str, Any]:
        bits = bytearray(LIST_BITS // 8)
        bits[REVOKED_IDX // 8] |= 1 << (REVOKED_IDX % 8)  # LSB first (TSL -20 section 4.1)
        lst = b64u(zlib.compress(bytes(bits), 9))
        return {"sub": STATUS_URI, "iat": NOW, "exp": NOW + 300, "ttl": 60,
                "status_list": {"bits": 1, "lst": lst}}  # fmt: skip

    def audit_events(self) -> list[dict[str, Any]]:
        """A grant's first five events, hash-chained (CONTRACT.md section 5)."""
        base = {"grant_id": GRANT_ID, "sub": USER}
        events: list[dict[str, Any]] = [
            {"event_id": "evt_000001", "seq": 1, "time": "2026-11-18T08:20:00.114Z",
             "type": "grant.created",
             "actor": {"type": "client", "id": AGENT}, **base, "client_id": AGENT},
            {"event_id": "evt_000002", "seq": 2, "time": "2026-11-18T08:22:00.530Z",
             "type": "grant.approved",
             "actor": {"type": "user", "id": USER}, **base, "client_id": AGENT},
            {"event_id": "evt_000003", "seq": 3, "time": "2026-11-18T11:06:40.037Z",
             "type": "token.issued",
             "actor": {"type": "client", "id": AGENT}, **base, "client_id": AGENT,
             "act": self.agent_act(),
             "token_jti": "tok_Btmq_af2cQCT9kCWivKXXw", "resource": TOOL_RESOURCE,
             "scope": "files:read files:write"},
            {"event_id": "evt_000004", "seq": 4, "time": "2026-11-18T11:06:52.208Z",
             "type": "token.exchanged",
             "actor": {"type": "client", "id": TOOL}, **base, "client_id": TOOL,
             "act": self.tool_act(),
             "token_jti": "tok_GEc_szLNHppUhQvnx1gGrA",
             "parent_jti": "tok_Btmq_af2cQCT9kCWivKXXw", "resource": API_RESOURCE,
             "scope": "files:read"},
            {"event_id": "evt_000005", "seq": 5, "time": "2026-11-18T11:07:20.911Z",
             "type": "token.refused",
             "actor": {"type": "client", "id": TOOL}, **base, "client_id": TOOL,
             "act": self.tool_act(),
             "parent_jti": "tok_Btmq_af2cQCT9kCWivKXXw", "resource": API_RESOURCE,
             "scope": "files:write", "error": "invalid_scope",
             "error_description": "requested scope exceeds the subject token's scope"},
        ]  # fmt: skip
        prev = "0" * 64
        for event in events:
            event["prev_hash"] = prev
            event["hash"] = prev = audit_hash(event)
        return events


def audit_hash(event: dict[str, Any]) -> str:
    body = {k: v for k, v in event.items() if k != "hash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def rehash(event: dict[str, Any]) -> dict[str, Any]:
    """A mutated event with its hash recomputed, so the mutation is its only defect."""
    event["hash"] = audit_hash(event)
    return event


def _without(value: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in value.items() if k not in names}


def _with(value: dict[str, Any], **members: Any) -> dict[str, Any]:
    return {**copy.deepcopy(value), **members}


def outputs(sc: Scenario) -> dict[str, Any]:
    """Every generated example file (path under ``schemas/examples``) and its content."""
    ev = {e["seq"]: e for e in sc.audit_events()}
    response = sc.token_response()
    grant_req = sc.grant_request()
    exchange_req = sc.exchange_request()
    tool_with_model = {"actor_type": "tool", "sub": TOOL, "mcpa_model": MODEL,
                       "act": sc.agent_act()}  # fmt: skip
    initial, exchanged = sc.initial_claims(), sc.exchanged_claims()
    intro = sc.introspection()
    assertion = sc.agent_assertion_claims()
    out: dict[str, Any] = {
        "delegation-token-header/valid-es256.json": sc.token_header("issuer"),
        "delegation-token-header/valid-ed25519.json": sc.token_header("issuer_ed25519"),
        "delegation-token-claims/valid-initial.json": sc.initial_claims(),
        "delegation-token-claims/valid-exchanged.json": sc.exchanged_claims(),
        "delegation-token-claims/valid-tool-model.json": _with(
            sc.exchanged_claims(), act=tool_with_model
        ),
        "delegation-token-claims/invalid-act-without-agent.json": _with(
            initial, act={"actor_type": "tool", "sub": TOOL}
        ),
        "delegation-token-claims/invalid-aud-array.json": _with(initial, aud=[TOOL_RESOURCE]),
        "delegation-token-claims/invalid-cnf-jkt-short.json": _with(
            exchanged, cnf={"jkt": exchanged["cnf"]["jkt"][:22]}
        ),
        "delegation-token-claims/invalid-exp-string.json": _with(initial, exp=str(NOW + 300)),
        "delegation-token-claims/invalid-missing-cnf.json": _without(initial, "cnf"),
        "delegation-token-claims/invalid-scope-double-space.json": _with(
            initial, scope="files:read  files:write"
        ),
        "delegation-token-claims/invalid-status-missing-idx.json": _with(
            exchanged, status={"mcpa_grant_list": {"uri": STATUS_URI}}
        ),
        # draft-00's member alone: TSL's mechanism is ignored, so mcpa_grant_list is missing
        "delegation-token-claims/invalid-status-only-status-list.json": _with(
            initial, status={"status_list": {"idx": STATUS_IDX, "uri": STATUS_URI}}
        ),
        "introspection-response/invalid-active-aud-array.json": _with(intro, aud=[API_RESOURCE]),
        "introspection-response/invalid-active-missing-cnf.json": _without(intro, "cnf"),
        "actor-hop/valid-agent.json": sc.agent_act(),
        "actor-hop/invalid-actor-type-unknown.json": _with(sc.tool_act(), actor_type="user"),
        # draft-00's model hop is no longer a hop type (the model is `mcpa_model`)
        "actor-hop/invalid-actor-type-model.json": {
            "actor_type": "model",
            "sub": MODEL,
            "act": {"actor_type": "agent", "sub": AGENT},
        },
        "actor-hop/invalid-agent-with-act.json": _with(
            sc.agent_act(), act={"actor_type": "agent", "sub": "agent-runtime-2"}
        ),
        "actor-hop/invalid-tool-without-act.json": {"actor_type": "tool", "sub": TOOL},
        "actor-hop/invalid-act-null.json": _with(sc.agent_act(), act=None),
        "actor-hop/invalid-missing-sub.json": _without(sc.tool_act(), "sub"),
        "actor-hop/invalid-agent-missing-mcpa-model.json": _without(sc.agent_act(), "mcpa_model"),
        "actor-hop/invalid-mcpa-model-number.json": _with(sc.agent_act(), mcpa_model=7),
        "dpop-proof-header/invalid-ed25519-with-ec-jwk.json": _with(
            sc.proof_header("agent_dpop"), alg="Ed25519"
        ),
        "client-assertion-claims/invalid-aud-array.json": _with(
            assertion, aud=[ISSUER, f"{ISSUER}/token"]
        ),
        "client-assertion-claims/invalid-aud-token-endpoint.json": _with(
            assertion, aud=f"{ISSUER}/token"
        ),
        "actor-hop/valid-tool.json": sc.tool_act(),
        "actor-hop/valid-tool-with-model.json": tool_with_model,
        "actor-hop/valid-two-tools.json": {
            "actor_type": "tool",
            "sub": "search-tool",
            "act": sc.tool_act(),
        },
        "client-assertion-claims/valid.json": sc.agent_assertion_claims(),
        "client-assertion-claims/valid-aud-array.json": _with(
            sc.agent_assertion_claims(), aud=[ISSUER]
        ),
        "dpop-proof-header/valid.json": sc.proof_header("agent_dpop"),
        "dpop-proof-header/valid-tool.json": sc.proof_header("tool_dpop"),
        "dpop-proof-claims/valid.json": sc.token_endpoint_proof(),
        "dpop-proof-claims/valid-resource.json": sc.resource_proof(),
        "token-request-grant/valid.json": grant_req,
        "token-request-grant/invalid-grant-type-client-credentials.json": _with(
            grant_req, grant_type="client_credentials"
        ),
        "token-request-grant/invalid-missing-grant-id.json": _without(grant_req, "grant_id"),
        "token-request-grant/invalid-requested-token-type-id-token.json": _with(
            grant_req, requested_token_type=ID_TOKEN_TYPE
        ),
        "token-request-grant/invalid-resource-not-uri.json": _with(grant_req, resource="files"),
        "token-request-grant/invalid-scope-repeated.json": _with(
            grant_req, scope=["files:read", "files:write"]
        ),
        "token-request-exchange/valid.json": exchange_req,
        "token-request-exchange/valid-tool-model.json": _with(exchange_req, actor_model=MODEL),
        "token-request-exchange/invalid-actor-token-present.json": _with(
            exchange_req, actor_token=sc.initial_token()
        ),
        "token-request-exchange/invalid-client-assertion-type-saml.json": _with(
            exchange_req,
            client_assertion_type="urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
        ),
        "token-request-exchange/invalid-missing-resource.json": _without(exchange_req, "resource"),
        "token-request-exchange/invalid-subject-token-type-id-token.json": _with(
            exchange_req, subject_token_type=ID_TOKEN_TYPE
        ),
        "token-response/valid.json": response,
        "token-response/invalid-expires-in-too-long.json": _with(response, expires_in=3600),
        "token-response/invalid-missing-grant-id.json": _without(response, "grant_id"),
        "token-response/invalid-token-type-bearer.json": _with(response, token_type="Bearer"),  # noqa: S106
        "introspection-response/valid-active.json": sc.introspection(),
        "status-list-token-claims/valid.json": sc.status_list_claims(),
        "error-response/valid-exchange-refused.json": {
            "error": "invalid_request",
            "error_description": "subject_token is revoked or its grant is not active",
            "mcpa_error": "grant_revoked",
        },
        "audit-event/valid-grant-created.json": ev[1],
        "audit-event/valid-grant-approved.json": ev[2],
        "audit-event/valid-token-issued.json": ev[3],
        "audit-event/valid-token-exchanged.json": ev[4],
        "audit-event/valid-token-refused.json": ev[5],
        "audit-event/invalid-access-token-logged.json": rehash(
            _with(ev[3], access_token=sc.initial_token())
        ),
        "audit-event/invalid-act-extra-member.json": rehash(
            _with(ev[4], act={**sc.tool_act(), "act": {**sc.agent_act(), "provider": "x"}})
        ),
        "audit-event/invalid-exchanged-missing-parent-jti.json": rehash(
            _without(ev[4], "parent_jti")
        ),
        "audit-event/invalid-first-prev-hash-nonzero.json": rehash(
            _with(ev[1], prev_hash="1" * 64)
        ),
        "audit-event/invalid-hash-uppercase.json": _with(ev[4], hash=ev[4]["hash"].upper()),
        "audit-event/invalid-refused-missing-error.json": rehash(
            _without(ev[5], "error", "error_description")
        ),
        "audit-event/invalid-time-no-milliseconds.json": rehash(
            _with(ev[4], time="2026-11-18T11:06:52Z")
        ),
        "audit-event/invalid-type-unknown.json": rehash(_with(ev[4], type="token.used")),
        "audit-event/invalid-actor-missing.json": rehash(_without(ev[2], "actor")),
        "audit-event/invalid-token-actor-user.json": rehash(
            _with(ev[3], actor={"type": "user", "id": USER})
        ),
        "audit-event/invalid-user-actor-without-id.json": rehash(
            _with(ev[2], actor={"type": "user"})
        ),
    }
    return out


@dataclass(frozen=True)
class Vector:
    """The seed of an Appendix C vector: an input, the fixed ``now``, the expected outcome."""

    name: str
    now: int
    token: str
    expected: str  # "accept", or "<error> <requirement>"


def vectors(sc: Scenario) -> list[Vector]:
    """The examples' tokens with their expected outcome at a fixed time (Appendix C seed)."""
    token = sc.initial_token()
    return [
        Vector("initial token, at issuance", NOW, token, "accept"),
        Vector("initial token, after exp", NOW + 301, token, "invalid_token MCPA-VER-016"),
    ]


def render(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    parser.add_argument("--new-keys", action="store_true", help="write fresh example keys")
    args = parser.parse_args(argv)
    if args.new_keys:
        KEYS_FILE.write_text(render(new_keys()), "utf-8")
    sc = Scenario(load_keys())
    stale = []
    for rel, value in outputs(sc).items():
        path = EXAMPLES / rel
        text = render(value)
        if path.exists() and path.read_text("utf-8") == text:
            continue
        stale.append(rel)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, "utf-8")
    for rel in stale:
        print(("differs: " if args.check else "wrote: ") + rel)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
