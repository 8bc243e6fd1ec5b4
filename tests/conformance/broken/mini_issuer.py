"""A miniature MCP-Auth Delegation Issuer, correct unless given one ``defect``.

Self-contained (pyjwt, cryptography, Starlette; no suite or reference code) and in memory.
It implements just enough of CONTRACT.md section 3 for every Issuer check to pass; each
defect breaks exactly one rule.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
import zlib
from typing import Any
from urllib.parse import parse_qsl

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

DEFECTS = (
    "scope_grows",
    "non_audience_exchange",
    "extends_expiry",
    "ignores_depth",
    "ignores_grant_revocation",
    "grants_cacheable",
    "refresh_token_on_exchange",
    "actor_is_grant_client",
    "exchange_invalid_grant",  # draft-00: invalid_grant for an unacceptable subject token
    "endpoint_audience",  # draft-00: accepts the endpoint URL as a client assertion's aud
    "model_hop",  # draft-00: the model as the outermost hop of the agent's token
    "pending_status_entry",
    "guessable_list_id",
    "stale_status_list",
    "quota_500",
)
PENDING_QUOTA = 20
GRANT_STATUSES = ("pending", "active", "denied", "revoked", "expired")
CONSENT_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
GT_GRANT = "urn:ietf:params:oauth:grant-type:mcpa-grant"
GT_XCH = "urn:ietf:params:oauth:grant-type:token-exchange"
TT = "urn:ietf:params:oauth:token-type:access_token"
NO_STORE = {"Cache-Control": "no-store"}
LIFETIME = 300
MAX_DEPTH = 5


class OAuth(Exception):
    def __init__(
        self, error: str, desc: str = "", status: int = 400, mcpa_error: str | None = None
    ) -> None:
        super().__init__(desc)
        self.error, self.desc, self.status, self.mcpa_error = error, desc, status, mcpa_error
        self.headers = {"WWW-Authenticate": 'Bearer realm="mini"'} if status == 401 else {}
        self.members: dict[str, str] = {}


class QuotaExceeded(OAuth):
    def __init__(self) -> None:
        super().__init__("quota_exceeded", "grant quota pending_per_client is reached", 403)
        self.members = {"mcpa_quota": "pending_per_client"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def strict_compact(token: str) -> bool:
    """Three segments of canonical, unpadded base64url (pyjwt alone is more lenient)."""
    parts = token.split(".")
    if len(parts) != 3:
        return False
    for part in parts:
        if not re.fullmatch(r"[A-Za-z0-9_-]*", part) or len(part) % 4 == 1:
            return False
        if b64(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))) != part:
            return False
    return True


def thumbprint(jwk: dict[str, Any]) -> str:
    names = ("crv", "kty", "x", "y") if jwk["kty"] == "EC" else ("crv", "kty", "x")
    canon = json.dumps({k: jwk[k] for k in names}, sort_keys=True, separators=(",", ":"))
    return b64(hashlib.sha256(canon.encode()).digest())


def event_hash(event: dict[str, Any]) -> str:
    body = {k: v for k, v in event.items() if k != "hash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


class MiniIssuer:
    def __init__(
        self,
        clients: dict[str, dict[str, Any]],
        defect: str | None = None,
        admin_token: str = "admin-secret",  # noqa: S107 - a test fixture
    ) -> None:
        """``clients``: client_id -> {"jwk": public JWK, "type": ..., "resource": ...}."""
        assert defect is None or defect in DEFECTS, defect
        self.defect = defect
        self.clients = clients
        self.admin_token = admin_token
        self.url = ""
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.kid = "mini-1"
        self.grants: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        self.revoked_bits: set[int] = set()
        self.used_idx: set[int] = set()
        self.list_id = "1" if defect == "guessable_list_id" else secrets.token_urlsafe(16)
        self.held_list: tuple[int, str] | None = None  # (iat, token), re-signed each second
        self.seen_assertions: set[str] = set()
        self.seen_proofs: set[str] = set()
        self.events: list[dict[str, Any]] = []

    # -- keys ------------------------------------------------------------------------------
    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": self.kid, "alg": "ES256", "use": "sig"})
        return {"keys": [jwk]}

    def sign(self, claims: dict[str, Any], typ: str) -> str:
        return jwt.encode(
            claims, self.key, algorithm="ES256", headers={"typ": typ, "kid": self.kid}
        )

    def metadata(self) -> dict[str, Any]:
        u = self.url
        return {
            "issuer": u,
            "token_endpoint": f"{u}/token",
            "jwks_uri": f"{u}/jwks",
            "revocation_endpoint": f"{u}/revoke",
            "introspection_endpoint": f"{u}/introspect",
            "grant_types_supported": [GT_GRANT, GT_XCH],
            "response_types_supported": [],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["ES256", "Ed25519"],
            "revocation_endpoint_auth_methods_supported": ["private_key_jwt"],
            "introspection_endpoint_auth_methods_supported": ["private_key_jwt"],
            "dpop_signing_alg_values_supported": ["ES256", "Ed25519"],
            "mcpa_version": "draft-01",
            "mcpa_grants_endpoint": f"{u}/grants",
            "mcpa_consent_endpoint": f"{u}/consent",
            "mcpa_max_chain_depth": MAX_DEPTH,
            "mcpa_max_token_lifetime": LIFETIME,
            "mcpa_status_list_max_age": 60,
            "mcpa_token_signing_alg_values_supported": ["ES256", "Ed25519"],
            "mcpa_actor_types_supported": ["agent", "tool"],
        }

    def audit(self, type_: str, actor: dict[str, str] | None = None, **fields: Any) -> None:
        """Append an event; token events are the client's, grant events name their actor."""
        prev = self.events[-1]["hash"] if self.events else "0" * 64
        if actor is None or self.defect == "actor_is_grant_client":
            actor = {"type": "client", "id": fields["client_id"]}
        event = {
            "event_id": "evt_" + secrets.token_urlsafe(12),
            "seq": len(self.events) + 1,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "type": type_,
            "actor": actor,
            **{k: v for k, v in fields.items() if v is not None},
            "prev_hash": prev,
        }
        event["hash"] = event_hash(event)
        self.events.append(event)

    # -- authentication ------------------------------------------------------------------------
    def client_auth(self, assertion: str | None, endpoint: str) -> str:
        if not assertion:
            raise OAuth("invalid_client", "client authentication required", 401)
        if not strict_compact(assertion):
            raise OAuth("invalid_client", "malformed client assertion", 401)
        try:
            header = jwt.get_unverified_header(assertion)
            typ = str(header.get("typ", "")).lower().removeprefix("application/")
            if typ in ("mcpa+jwt", "dpop+jwt", "statuslist+jwt") or any(
                h in header for h in ("jku", "x5u", "jwk", "x5c", "crit")
            ):
                raise OAuth("invalid_client", "not a client assertion", 401)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
            client_id = unverified.get("iss")
            client = self.clients.get(str(client_id))
            if client is None or unverified.get("sub") != client_id:
                raise OAuth("invalid_client", "unknown client", 401)
            key = jwt.PyJWK(client["jwk"]).key
            claims = jwt.decode(
                assertion,
                key,
                algorithms=["ES256", "Ed25519", "EdDSA"],
                audience=[self.url, endpoint] if self.defect == "endpoint_audience" else self.url,
                options={"require": ["exp", "jti", "iss", "sub", "aud"]},
            )
        except jwt.PyJWTError:
            raise OAuth("invalid_client", "bad client assertion", 401) from None
        # rfc7523bis: the issuer identifier as the sole audience value (string or [string])
        if claims["aud"] not in (self.url, [self.url]) and self.defect != "endpoint_audience":
            raise OAuth("invalid_client", "assertion aud is not the issuer alone", 401)
        if (
            claims["exp"] - claims.get("iat", int(time.time())) > 300
            or claims["exp"] > time.time() + 300
        ):
            raise OAuth("invalid_client", "assertion lifetime", 401)
        if not isinstance(claims["jti"], str) or not 0 < len(claims["jti"]) <= 256:
            raise OAuth("invalid_client", "assertion jti", 401)
        if claims["jti"] in self.seen_assertions:
            raise OAuth("invalid_client", "assertion replayed", 401)
        self.seen_assertions.add(claims["jti"])
        return str(client_id)

    def dpop(self, proof: str | None, htu: str) -> str:
        if not proof:
            raise OAuth("invalid_dpop_proof", "DPoP proof required")
        try:
            header = jwt.get_unverified_header(proof)
            jwk = header.get("jwk")
            if header.get("typ") != "dpop+jwt" or not isinstance(jwk, dict) or "d" in jwk:
                raise OAuth("invalid_dpop_proof", "bad proof header")
            claims = jwt.decode(proof, jwt.PyJWK(jwk).key, algorithms=["ES256", "Ed25519", "EdDSA"])
        except (jwt.PyJWTError, ValueError, KeyError):
            raise OAuth("invalid_dpop_proof", "bad proof") from None
        now = time.time()
        if (
            claims.get("htm") != "POST"
            or claims.get("htu") != htu
            or not (now - 60 <= claims.get("iat", 0) <= now + 30)
        ):
            raise OAuth("invalid_dpop_proof", "proof does not match")
        if claims.get("jti") in self.seen_proofs or not claims.get("jti"):
            raise OAuth("invalid_dpop_proof", "proof replayed")
        self.seen_proofs.add(claims["jti"])
        return thumbprint(jwk)

    def verify_own(self, token: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token, self.key.public_key(), algorithms=["ES256"], options={"verify_aud": False}
            )
        except jwt.ExpiredSignatureError:
            raise self.refuse("subject token expired", "subject_token_expired") from None
        except jwt.PyJWTError:
            raise self.refuse("subject token invalid", "subject_token_invalid") from None
        return claims

    def refuse(self, desc: str, mcpa_error: str) -> OAuth:
        """An unacceptable subject token: invalid_request + mcpa_error (RFC 8693 2.2.2)."""
        if self.defect == "exchange_invalid_grant":
            return OAuth("invalid_grant", desc)
        return OAuth("invalid_request", desc, mcpa_error=mcpa_error)

    # -- token endpoint --------------------------------------------------------------------------
    async def form(self, request: Request) -> dict[str, str]:
        body = await request.body()
        if len(body) > 65536:
            raise OAuth("invalid_request", "body too large", 413)
        if (
            request.headers.get("content-type", "").split(";")[0]
            != "application/x-www-form-urlencoded"
        ):
            raise OAuth("invalid_request", "form expected")
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            raise OAuth("invalid_request", "malformed form") from None
        names = [n for n, _ in pairs]
        if len(names) != len(set(names)):
            raise OAuth("invalid_request", "repeated parameter")
        return dict(pairs)

    async def token(self, request: Request) -> dict[str, Any]:
        f = await self.form(request)
        client_id = self.client_auth(f.get("client_assertion"), f"{self.url}/token")
        if f.get("client_id", client_id) != client_id:
            raise OAuth("invalid_client", "client_id does not match the assertion", 401)
        gt = f.get("grant_type")
        if gt == GT_GRANT:
            for p in ("grant_id", "resource", "actor_model"):
                if not f.get(p):
                    raise OAuth("invalid_request", f"missing {p}")
            if f.get("requested_token_type", TT) != TT:
                raise OAuth("invalid_request", "unsupported requested_token_type")
            jkt = self.dpop(request.headers.get("dpop"), f"{self.url}/token")
            return self.issue(client_id, f, jkt)
        if gt == GT_XCH:
            if "actor_token" in f or "actor_token_type" in f:
                raise OAuth("invalid_request", "actor_token not supported")
            if (
                not f.get("subject_token")
                or f.get("subject_token_type") != TT
                or not f.get("resource")
            ):
                raise OAuth("invalid_request", "missing exchange parameters")
            jkt = self.dpop(request.headers.get("dpop"), f"{self.url}/token")
            return self.exchange(client_id, f, jkt)
        raise OAuth("unsupported_grant_type", "unsupported grant type")

    def active_grant(self, grant_id: str) -> dict[str, Any]:
        g = self.grants.get(grant_id)
        if g is None:
            raise OAuth("invalid_grant", "unknown grant")
        if g["status"] != "active" and not (
            self.defect == "ignores_grant_revocation" and g["status"] == "revoked"
        ):
            raise OAuth("invalid_grant", "grant not active")
        return g

    def mint(
        self,
        g: dict[str, Any],
        *,
        holder: str,
        aud: str,
        scope: list[str],
        jkt: str,
        act: dict[str, Any],
        exp: int,
        parent: str | None,
    ) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": self.url,
            "sub": g["sub"],
            "aud": aud,
            "client_id": holder,
            "iat": now,
            "exp": exp,
            "jti": secrets.token_urlsafe(16),
            "scope": " ".join(scope),
            "grant_id": g["grant_id"],
            "cnf": {"jkt": jkt},
            "status": {
                "mcpa_grant_list": {
                    "idx": g["status_list"]["idx"],
                    "uri": g["status_list"]["uri"],
                }
            },
            "act": act,
        }
        token = self.sign(claims, "mcpa+jwt")
        self.tokens[claims["jti"]] = {"claims": claims, "parent": parent, "revoked": False}
        self.audit(
            "token.exchanged" if parent else "token.issued",
            grant_id=g["grant_id"],
            sub=g["sub"],
            client_id=holder,
            act=act,
            token_jti=claims["jti"],
            parent_jti=parent,
            resource=aud,
            scope=claims["scope"],
        )
        return {
            "access_token": token,
            "token_type": "DPoP",
            "expires_in": exp - now,
            "scope": claims["scope"],
            "issued_token_type": TT,
            "grant_id": g["grant_id"],
        }

    def issue(self, client_id: str, f: dict[str, str], jkt: str) -> dict[str, Any]:
        g = self.grants.get(f["grant_id"])
        if g is None or g["client_id"] != client_id:
            raise OAuth("invalid_grant", "unknown grant")
        g = self.active_grant(f["grant_id"])
        if f["actor_model"] not in g["models"]:
            raise OAuth("invalid_grant", "model not in grant")
        if f["resource"] not in g["resources"]:
            raise OAuth("invalid_target", "resource not in grant")
        scope = f["scope"].split(" ") if f.get("scope") else list(g["scopes"])
        if not set(scope) <= set(g["scopes"]):
            raise OAuth("invalid_scope", "scope not in grant")
        act: dict[str, Any] = {
            "actor_type": "agent",
            "sub": client_id,
            "mcpa_model": f["actor_model"],
        }
        if self.defect == "model_hop":
            act = {
                "actor_type": "model",
                "sub": f["actor_model"],
                "act": {"actor_type": "agent", "sub": client_id},
            }
        exp = min(int(time.time()) + LIFETIME, g["expires_at"])
        return self.mint(
            g,
            holder=client_id,
            aud=f["resource"],
            scope=scope,
            jkt=jkt,
            act=act,
            exp=exp,
            parent=None,
        )

    def lineage_revoked(self, jti: str | None) -> bool:
        while jti is not None:
            rec = self.tokens.get(jti)
            if rec is None:
                return True
            if rec["revoked"]:
                return True
            jti = rec["parent"]
        return False

    def exchange(self, client_id: str, f: dict[str, str], jkt: str) -> dict[str, Any]:
        sub = self.verify_own(f["subject_token"])
        if sub["exp"] <= time.time():
            raise self.refuse("subject token expired", "subject_token_expired")
        if self.lineage_revoked(sub["jti"]):
            raise self.refuse("subject token revoked", "subject_token_revoked")
        try:
            g = self.active_grant(sub["grant_id"])
        except OAuth:
            raise self.refuse("grant not active", "grant_revoked") from None
        exchanger = self.clients[client_id]
        if exchanger.get("resource") != sub["aud"] and self.defect != "non_audience_exchange":
            raise self.refuse("only the audience may exchange", "not_audience")
        if client_id not in g["tools"]:
            raise self.refuse("tool not in grant", "tool_not_allowed")
        depth, node = 0, sub["act"]
        while isinstance(node, dict):
            depth, node = depth + 1, node.get("act")
        if depth + 1 > min(g["max_depth"], MAX_DEPTH) and self.defect != "ignores_depth":
            raise self.refuse("too deep", "depth_exceeded")
        if f.get("actor_model") and f["actor_model"] not in g["models"]:
            raise self.refuse("model not in grant", "model_not_allowed")
        if f["resource"] not in g["resources"]:
            raise OAuth("invalid_target", "resource not in grant")
        scope = f["scope"].split(" ") if f.get("scope") else sub["scope"].split(" ")
        grows = not set(scope) <= set(sub["scope"].split(" "))
        if grows and (self.defect != "scope_grows" or not set(scope) <= set(g["scopes"])):
            raise OAuth("invalid_scope", "scope grows")
        now = int(time.time())
        exp = (
            now + LIFETIME
            if self.defect == "extends_expiry"
            else min(now + LIFETIME, sub["exp"], g["expires_at"])
        )
        act: dict[str, Any] = {"actor_type": "tool", "sub": client_id, "act": sub["act"]}
        if f.get("actor_model"):  # a tool that samples its own model (MCPA-XCH-016)
            act = {"actor_type": "tool", "sub": client_id, "mcpa_model": f["actor_model"]}
            act["act"] = sub["act"]
        minted = self.mint(
            g,
            holder=client_id,
            aud=f["resource"],
            scope=scope,
            jkt=jkt,
            act=act,
            exp=exp,
            parent=sub["jti"],
        )
        if self.defect == "refresh_token_on_exchange":
            minted["refresh_token"] = secrets.token_urlsafe(32)
        return minted

    # -- other endpoints ----------------------------------------------------------------------
    def token_state(self, token: str) -> dict[str, Any] | None:
        try:
            claims = self.verify_own(token)
        except OAuth:
            return None
        g = self.grants.get(claims["grant_id"])
        if (
            claims["exp"] <= time.time()
            or self.lineage_revoked(claims["jti"])
            or g is None
            or g["status"] != "active"
        ):
            return None
        return claims

    async def revoke(self, request: Request) -> Response:
        f = await self.form(request)
        client_id = self.client_auth(f.get("client_assertion"), f"{self.url}/revoke")
        claims = self.token_state(f.get("token", ""))
        if claims and claims["client_id"] == client_id:
            self.tokens[claims["jti"]]["revoked"] = True
            self.audit(
                "token.revoked",
                grant_id=claims["grant_id"],
                sub=claims["sub"],
                client_id=client_id,
                token_jti=claims["jti"],
            )
        return Response(status_code=200, headers=NO_STORE)

    async def introspect(self, request: Request) -> Response:
        f = await self.form(request)
        client_id = self.client_auth(f.get("client_assertion"), f"{self.url}/introspect")
        if not f.get("token"):
            raise OAuth("invalid_request", "token parameter required")
        claims = self.token_state(f.get("token", ""))
        if claims is None or (
            claims["client_id"] != client_id
            and self.clients[client_id].get("resource") != claims["aud"]
        ):
            return JSONResponse({"active": False}, headers=NO_STORE)
        return JSONResponse(
            {
                "active": True,
                "token_type": "DPoP",
                **{
                    k: claims[k]
                    for k in (
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
                    )
                },
            },
            headers=NO_STORE,
        )

    def status_list(self) -> tuple[int, str]:
        now = int(time.time())
        if self.held_list is not None and now - self.held_list[0] < 1:
            return self.held_list
        data = bytearray(2**17 // 8)
        for i in self.revoked_bits:
            data[i // 8] |= 1 << (i % 8)
        iat = now - 25 if self.defect == "stale_status_list" else now
        token = self.sign(
            {
                "sub": f"{self.url}/status/{self.list_id}",
                "iat": iat,
                "exp": now + 60,
                "ttl": 30,
                "status_list": {"bits": 1, "lst": b64(zlib.compress(bytes(data)))},
            },
            "statuslist+jwt",
        )
        self.held_list = (now, token)
        return self.held_list

    def entry(self) -> dict[str, Any]:
        idx = secrets.randbelow(2**17)
        while idx in self.used_idx:
            idx = secrets.randbelow(2**17)
        self.used_idx.add(idx)
        return {"uri": f"{self.url}/status/{self.list_id}", "idx": idx}

    def grants_caller(self, request: Request) -> str | None:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            raise OAuth("invalid_client", "authentication required", 401)
        cred = auth[7:]
        if secrets.compare_digest(cred, self.admin_token):
            return None
        return self.client_auth(cred, f"{self.url}/grants")

    async def grants_api(self, request: Request) -> Response:
        caller = self.grants_caller(request)
        gid = request.path_params.get("grant_id")
        if gid is None and request.method == "POST":
            if caller is not None and self.clients[caller].get("type") != "agent":
                raise OAuth("access_denied", "only agents create grants", 403)
            try:
                body = json.loads(await request.body())
            except ValueError:
                raise OAuth("invalid_request", "not JSON") from None
            for name in ("resources", "scopes", "tools", "models"):
                if not isinstance(body.get(name), list):
                    raise OAuth("invalid_request", f"{name} must be a list")
            if not isinstance(body.get("sub"), str):
                raise OAuth("invalid_request", "sub")
            if "purpose" in body and (not isinstance(body["purpose"], str) or not body["purpose"]):
                raise OAuth("invalid_request", "purpose")
            if caller is not None:
                pending = [
                    g
                    for g in self.grants.values()
                    if g["client_id"] == caller and g["status"] == "pending"
                ]
                if len(pending) >= PENDING_QUOTA:
                    if self.defect == "quota_500":
                        raise OAuth("server_error", "no more indices", 500)
                    raise QuotaExceeded()
            now = int(time.time())
            g = {
                "grant_id": "grt_" + secrets.token_urlsafe(16),
                "status": "active" if caller is None else "pending",
                "sub": body["sub"],
                "client_id": body.get("client_id") if caller is None else caller,
                "resources": body["resources"],
                "scopes": body["scopes"],
                "tools": body["tools"],
                "models": body["models"],
                "max_depth": min(int(body.get("max_depth", MAX_DEPTH)), MAX_DEPTH),
                "max_token_lifetime": LIFETIME,
                "created_at": now,
                "expires_at": now + int(body.get("expires_in", 86400)),
            }
            if caller is None or self.defect == "pending_status_entry":
                g["status_list"] = self.entry()
            if caller is None:
                g["approved_at"] = now
            else:
                g["approval_uri"] = f"{self.url}/consent?grant_id={g['grant_id']}"
            self.grants[g["grant_id"]] = g
            who = {"type": "admin"} if caller is None else {"type": "client", "id": caller}
            for event in (
                ("grant.created", "grant.approved") if caller is None else ("grant.created",)
            ):
                self.audit(
                    event, who, grant_id=g["grant_id"], sub=g["sub"], client_id=g["client_id"]
                )
            return JSONResponse(g, status_code=201, headers=NO_STORE)
        if gid is None:  # GET /grants: the caller's own grants
            query = request.query_params.multi_items()
            names = [n for n, _ in query]
            if (
                len(names) != len(set(names))
                or not set(names) <= {"status", "sub", "client_id"}
                or any(n == "status" and v not in GRANT_STATUSES for n, v in query)
            ):
                raise OAuth("invalid_request", "bad query")
            wanted = dict(query).get("status")
            own = [
                g
                for g in self.grants.values()
                if (caller is None or g["client_id"] == caller)
                and (wanted is None or g["status"] == wanted)
            ]
            cache = {} if self.defect == "grants_cacheable" else NO_STORE
            return JSONResponse({"grants": own}, headers=cache)
        g = self.grants.get(str(gid))
        if g is None or (caller is not None and g["client_id"] != caller):
            raise OAuth("not_found", "no such grant", 404)
        if request.method == "DELETE":
            if g["status"] != "revoked":
                g["status"] = "revoked"
                g["revoked_at"] = int(time.time())
                if "status_list" in g:
                    self.revoked_bits.add(g["status_list"]["idx"])
                    self.held_list = None  # a bit changed: sign anew (MCPA-REV-001)
                who = {"type": "admin"} if caller is None else {"type": "client", "id": caller}
                self.audit(
                    "grant.revoked",
                    who,
                    grant_id=g["grant_id"],
                    sub=g["sub"],
                    client_id=g["client_id"],
                )
            return Response(status_code=204, headers=NO_STORE)
        if request.url.path.endswith("/events"):
            return JSONResponse(
                {
                    "grant_id": g["grant_id"],
                    "events": [e for e in self.events if e.get("grant_id") == g["grant_id"]],
                },
                headers=NO_STORE,
            )
        return JSONResponse(g, headers=NO_STORE)

    def app(self) -> Starlette:
        def guard(fn: Any) -> Any:
            async def endpoint(request: Request) -> Response:
                try:
                    result = await fn(request)
                except OAuth as exc:
                    body = {"error": exc.error, "error_description": exc.desc, **exc.members}
                    if exc.mcpa_error:
                        body["mcpa_error"] = exc.mcpa_error
                    return JSONResponse(
                        body,
                        status_code=exc.status,
                        headers={**NO_STORE, **exc.headers},
                    )
                if isinstance(result, Response):
                    return result
                return JSONResponse(result, headers=NO_STORE)

            return endpoint

        async def metadata(request: Request) -> Response:
            return JSONResponse(self.metadata(), headers={"Cache-Control": "max-age=60"})

        async def jwks(request: Request) -> Response:
            return JSONResponse(self.jwks(), headers={"Cache-Control": "max-age=60"})

        async def consent(request: Request) -> Response:
            page = "<!DOCTYPE html><title>Consent</title><p>Sign in to review the grant.</p>"
            return HTMLResponse(page, headers=CONSENT_HEADERS)

        async def status(request: Request) -> Response:
            if request.path_params["list_id"] != self.list_id:
                return JSONResponse({"error": "not_found"}, status_code=404, headers=NO_STORE)
            iat, token = self.status_list()
            headers = {
                "Cache-Control": f"public, max-age={max(0, iat + 15 - int(time.time()))}",
                "ETag": '"' + hashlib.sha256(token.encode()).hexdigest()[:16] + '"',
            }
            return Response(token, media_type="application/statuslist+jwt", headers=headers)

        async def not_allowed(request: Request, exc: Exception) -> Response:
            body = {"error": "invalid_request", "error_description": "method not allowed"}
            return JSONResponse(body, status_code=405, headers=NO_STORE)

        return Starlette(
            exception_handlers={405: not_allowed},
            routes=[
                Route("/.well-known/oauth-authorization-server", metadata),
                Route("/jwks", jwks),
                Route("/token", guard(self.token), methods=["POST"]),
                Route("/revoke", guard(self.revoke), methods=["POST"]),
                Route("/introspect", guard(self.introspect), methods=["POST"]),
                Route("/status/{list_id}", status),
                Route("/consent", consent),
                Route("/grants", guard(self.grants_api), methods=["GET", "POST"]),
                Route("/grants/{grant_id}", guard(self.grants_api), methods=["GET", "DELETE"]),
                Route("/grants/{grant_id}/events", guard(self.grants_api), methods=["GET"]),
            ],
        )
