"""A miniature MCP-Auth resource server, correct unless given one ``defect``.

Self-contained on purpose (cryptography + httpx + Starlette only; no suite or reference
code): it is the second, independent reading of the verification algorithm that the suite
is tested against. Each defect switches off exactly one rule.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import time
import zlib
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DEFECTS = (
    "ignores_aud",
    "accepts_alg_none",
    "skips_htu",
    "skips_ath",
    "skips_status",
    "accepts_expired",
    "fetches_jku",
    "accepts_bearer",
    "skips_replay",
    "unbounded_status_list",
    "refuses_ed25519",  # draft-00's allow-list: only the polymorphic EdDSA
    "accepts_model_hop",  # draft-00's chain grammar: agent, model, tool*
    "replay_before_key_binding",
)
SKEW = 30
ALGS = ("ES256", "Ed25519", "EdDSA")  # RFC 9864: EdDSA is the deprecated alias of Ed25519
MAX_LIST_BYTES = 1 << 20
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


class Reject(Exception):
    def __init__(self, status: int, error: str, desc: str) -> None:
        super().__init__(desc)
        self.status, self.error, self.desc = status, error, desc


def bad_token(desc: str) -> Reject:
    return Reject(401, "invalid_token", desc)


def bad_proof(desc: str) -> Reject:
    return Reject(401, "invalid_dpop_proof", desc)


def b64d(s: str) -> bytes:
    if not s or any(
        c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for c in s
    ):
        if s == "":
            return b""
        raise ValueError("alphabet")
    raw = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != s:
        raise ValueError("non-canonical")
    return raw


def strict_json(raw: bytes) -> dict[str, Any]:
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            raise ValueError("duplicate")
        return dict(pairs)

    obj = json.loads(raw.decode("utf-8"), object_pairs_hook=hook)
    if not isinstance(obj, dict):
        raise ValueError("not an object")
    return obj


def split_jws(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("segments")
    return (
        strict_json(b64d(parts[0])),
        strict_json(b64d(parts[1])),
        f"{parts[0]}.{parts[1]}".encode(),
        b64d(parts[2]),
    )


def verify(jwk: dict[str, Any], alg: str, data: bytes, sig: bytes) -> bool:
    try:
        if alg == "ES256" and jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
            x = int.from_bytes(b64d(jwk["x"]), "big")
            y = int.from_bytes(b64d(jwk["y"]), "big")
            pub = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
            if len(sig) != 64:
                return False
            r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
            if not (0 < r < N and 0 < s < N):
                return False
            pub.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
            return True
        if alg in ("Ed25519", "EdDSA") and jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
            ed25519.Ed25519PublicKey.from_public_bytes(b64d(jwk["x"])).verify(sig, data)
            return True
    except (InvalidSignature, ValueError, KeyError, TypeError):
        return False
    return False


def thumbprint(jwk: dict[str, Any]) -> str:
    names = ("crv", "kty", "x", "y") if jwk.get("kty") == "EC" else ("crv", "kty", "x")
    canon = json.dumps({k: jwk[k] for k in names}, sort_keys=True, separators=(",", ":"))
    return base64.urlsafe_b64encode(hashlib.sha256(canon.encode()).digest()).rstrip(b"=").decode()


def same_url(htu: Any, url: str) -> bool:
    """htu and the request URL are the same after lower-casing and reading the port."""

    def norm(u: str) -> str:
        p = urlsplit(u)
        default = {"http": 80, "https": 443}.get(p.scheme.lower())
        port = "" if p.port in (None, default) else f":{p.port}"
        return f"{p.scheme.lower()}://{(p.hostname or '').lower()}{port}{p.path or '/'}"

    try:
        return isinstance(htu, str) and norm(htu) == norm(url)
    except ValueError:
        return False


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class MiniVerifier:
    def __init__(self, defect: str | None = None, scope: str = "data:read") -> None:
        assert defect is None or defect in DEFECTS, defect
        self.defect = defect
        self.scope = scope
        self.issuer = ""
        self.resource = ""
        self._jwks: dict[str, Any] | None = None
        self._jwks_at = 0.0
        self._seen: dict[str, float] = {}
        self._status: dict[str, tuple[float, bytes]] = {}
        self.http = httpx.Client(timeout=5)

    # -- keys and status -------------------------------------------------------------------
    def jwks(self, refresh: bool = False) -> dict[str, Any]:
        if self._jwks is None or (refresh and time.time() - self._jwks_at > 30):
            md = self.http.get(self.issuer + "/.well-known/oauth-authorization-server").json()
            self._jwks = self.http.get(md["jwks_uri"]).json()
            self._jwks_at = time.time()
        return self._jwks

    def key_for(self, header: dict[str, Any]) -> dict[str, Any]:
        kid, alg = header.get("kid"), header.get("alg")
        crv = {"ES256": "P-256", "Ed25519": "Ed25519", "EdDSA": "Ed25519"}[str(alg)]
        for attempt in (False, True):
            found = [
                k
                for k in self.jwks(refresh=attempt).get("keys", [])
                if isinstance(kid, str) and k.get("kid") == kid and k.get("crv") == crv
            ]
            if len(found) == 1:
                return found[0]
        raise bad_token("unknown kid")

    def status_bits(self, uri: str) -> bytes:
        cached = self._status.get(uri)
        if cached and time.time() - cached[0] < 10:
            return cached[1]
        try:
            resp = self.http.get(uri)
            resp.raise_for_status()
            bounded = self.defect != "unbounded_status_list"
            if bounded and len(resp.content) > MAX_LIST_BYTES:
                raise ValueError("status list body over 1 MiB")
            header, claims, data, sig = split_jws(resp.text.strip())
            if header.get("typ") != "statuslist+jwt" or claims.get("sub") != uri:
                raise ValueError("bad list")
            if not verify(self.key_for(header), str(header.get("alg")), data, sig):
                raise ValueError("bad list signature")
            if not is_int(claims.get("iat")) or claims["iat"] < time.time() - 60:
                raise ValueError("stale list")
            inflater = zlib.decompressobj()
            limit = MAX_LIST_BYTES + 1 if bounded else 0
            bits = inflater.decompress(b64d(claims["status_list"]["lst"]), limit)
            if len(bits) > MAX_LIST_BYTES or inflater.unconsumed_tail:
                raise ValueError("status list inflates beyond 1 MiB")
        except (httpx.HTTPError, ValueError, KeyError, TypeError, zlib.error, Reject) as exc:
            raise Reject(503, "temporarily_unavailable", "status unavailable") from exc
        self._status[uri] = (time.time(), bits)
        return bits

    # -- the algorithm ---------------------------------------------------------------------
    def check(self, request: Request) -> dict[str, Any]:
        auths = request.headers.getlist("authorization")
        proofs = request.headers.getlist("dpop")
        if not auths:  # with or without a DPoP field (MCPA-VER-002)
            raise Reject(401, "", "")
        if len(auths) != 1 or len(proofs) > 1:
            raise Reject(400, "invalid_request", "repeated header")
        scheme, _, token = auths[0].partition(" ")
        if not scheme or not token or "," in auths[0]:  # "", "Bearer", "Bearer a,b": 400
            raise Reject(400, "invalid_request", "malformed Authorization")
        if scheme.lower() == "bearer" and self.defect != "accepts_bearer":
            raise bad_token("DPoP-bound token sent as Bearer")
        if scheme.lower() not in ("dpop", "bearer") or not token or " " in token:
            raise Reject(400, "invalid_request", "malformed Authorization")
        if len(token) > 8192:
            raise bad_token("too large")
        try:
            header, claims, data, sig = split_jws(token)
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise bad_token("malformed") from None
        if str(header.get("typ", "")).lower() not in (
            "mcpa+jwt",
            "application/mcpa+jwt",
        ) or not isinstance(header.get("typ"), str):
            raise bad_token("typ")
        alg = header.get("alg")
        unsigned = self.defect == "accepts_alg_none" and str(alg).lower() == "none"
        algs = ("ES256", "EdDSA") if self.defect == "refuses_ed25519" else ALGS
        if alg not in algs and not unsigned:
            raise bad_token("alg")
        if self.defect == "fetches_jku" and "jku" in header:
            jwks = self.http.get(str(header["jku"])).json()
            for k in jwks.get("keys", []):
                if verify(k, str(alg), data, sig):
                    break
        elif any(h in header for h in ("jku", "x5u", "jwk", "x5c")):
            raise bad_token("key-fetching header")
        if "crit" in header:
            raise bad_token("crit")
        followed = self.defect == "fetches_jku" and "jku" in header
        if not (unsigned or followed or verify(self.key_for(header), str(alg), data, sig)):
            raise bad_token("signature")
        for name in ("iss", "sub", "aud", "client_id", "jti", "scope", "grant_id"):
            if not isinstance(claims.get(name), str):
                raise bad_token(f"claim {name}")
        if (
            not is_int(claims.get("iat"))
            or not is_int(claims.get("exp"))
            or ("nbf" in claims and not is_int(claims["nbf"]))
        ):
            raise bad_token("time claim types")
        cnf, st = claims.get("cnf"), claims.get("status")
        if not isinstance(cnf, dict) or not isinstance(cnf.get("jkt"), str):
            raise bad_token("cnf")
        sl = st.get("mcpa_grant_list") if isinstance(st, dict) else None
        if (
            not isinstance(sl, dict)
            or not is_int(sl.get("idx"))
            or not isinstance(sl.get("uri"), str)
        ):
            raise bad_token("status")
        if not isinstance(claims.get("act"), dict):
            raise bad_token("act")
        if claims["iss"] != self.issuer:
            raise bad_token("iss")
        if claims["aud"] != self.resource and self.defect != "ignores_aud":
            raise bad_token("aud")
        now = int(time.time())
        if self.defect != "accepts_expired" and claims["exp"] <= now - SKEW:
            raise bad_token("expired")
        if claims["iat"] > now + SKEW or claims.get("nbf", 0) > now + SKEW:
            raise bad_token("not yet valid")
        if claims["exp"] - claims["iat"] > 300:
            raise bad_token("lifetime")
        self.check_proof(request, proofs, token, claims, now)
        self.check_chain(claims)
        if not set(self.scope.split()) <= set(claims["scope"].split(" ")):
            raise Reject(403, "insufficient_scope", "scope")
        if self.defect != "skips_status":
            rest = sl["uri"][len(self.issuer) :]
            segments = re.sub("%2[eE]", ".", rest).split("/")
            if (
                not sl["uri"].startswith(self.issuer + "/")
                or "//" in rest
                or len(sl["uri"]) > 2048
                or not re.fullmatch(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*", rest)
                or any(seg in (".", "..") for seg in segments)
            ):
                raise bad_token("status uri outside the issuer")
            bits = self.status_bits(sl["uri"])
            idx = sl["idx"]
            if idx < 0 or idx // 8 >= len(bits) or (bits[idx // 8] >> (idx % 8)) & 1:
                raise bad_token("revoked")
        return claims

    def check_proof(
        self, request: Request, proofs: list[str], token: str, claims: dict[str, Any], now: int
    ) -> None:
        if len(proofs) != 1:
            raise bad_proof("missing proof")
        try:
            header, pc, data, sig = split_jws(proofs[0])
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise bad_proof("malformed proof") from None
        jwk = header.get("jwk")
        if (
            header.get("typ") != "dpop+jwt"
            or header.get("alg") not in ALGS
            or not isinstance(jwk, dict)
            or "d" in jwk
            or jwk.get("alg", header.get("alg")) != header.get("alg")
            or jwk.get("use", "sig") != "sig"
        ):
            raise bad_proof("proof header")
        if not verify(jwk, str(header["alg"]), data, sig):
            raise bad_proof("proof signature")
        if not isinstance(pc.get("jti"), str) or not pc["jti"] or not is_int(pc.get("iat")):
            raise bad_proof("proof claims")
        if pc.get("htm") != request.method:
            raise bad_proof("htm")
        url = str(request.url).split("?")[0].split("#")[0]
        if not same_url(pc.get("htu"), url) and self.defect != "skips_htu":
            raise bad_proof("htu")
        if not now - 60 <= pc["iat"] <= now + SKEW:
            raise bad_proof("iat")
        digest = hashlib.sha256(token.encode()).digest()
        if (
            pc.get("ath") != base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            and self.defect != "skips_ath"
        ):
            raise bad_proof("ath")
        binding_first = self.defect != "replay_before_key_binding"
        if binding_first and thumbprint(jwk) != claims["cnf"]["jkt"]:
            raise bad_token("cnf.jkt")
        if self.defect != "skips_replay":
            for j, t in list(self._seen.items()):
                if t < now - 120:
                    del self._seen[j]
            if pc["jti"] in self._seen:
                raise bad_proof("replay")
            self._seen[pc["jti"]] = now
        if not binding_first and thumbprint(jwk) != claims["cnf"]["jkt"]:
            raise bad_token("cnf.jkt")

    def check_chain(self, claims: dict[str, Any]) -> None:
        hops, node = [], claims["act"]
        while True:
            if not isinstance(node, dict) or len(hops) > 32:
                raise bad_token("chain")
            hops.append(node)
            if "act" not in node:  # "act": null is a malformed hop
                break
            node = node["act"]
        kinds = [h.get("actor_type") for h in reversed(hops)]
        if self.defect == "accepts_model_hop":  # draft-00: agent, model, tool*
            hops = [h for h in hops if h.get("actor_type") != "model"]
            kinds = [k for k in kinds if k != "model"]
        if (
            any(not isinstance(h.get("sub"), str) for h in hops)
            or any("mcpa_model" in h and not isinstance(h["mcpa_model"], str) for h in hops)
            or kinds[:1] != ["agent"]
            or any(k != "tool" for k in kinds[1:])
        ):
            raise bad_token("chain grammar")
        if claims["client_id"] != hops[0]["sub"]:
            raise bad_token("client_id")
        if len(hops) > 5:
            raise bad_token("depth")

    # -- HTTP --------------------------------------------------------------------------------
    def metadata_url(self) -> str:
        base, _, path = self.resource.partition("//")[2].partition("/")
        return f"http://{base}/.well-known/oauth-protected-resource" + (
            "/" + path.rstrip("/") if path.rstrip("/") else ""
        )

    def app(self) -> Starlette:
        async def protected(request: Request) -> Response:
            try:
                claims = self.check(request)
            except Reject as exc:
                challenge = 'DPoP algs="ES256 Ed25519"'
                if exc.error:
                    challenge += f', error="{exc.error}", error_description="{exc.desc}"'
                if exc.error == "insufficient_scope":
                    challenge += f', scope="{self.scope}"'
                challenge += f', resource_metadata="{self.metadata_url()}"'
                body = {"error": exc.error, "error_description": exc.desc} if exc.error else {}
                headers = {"Cache-Control": "no-store"}
                if exc.status in (401, 403):
                    headers["WWW-Authenticate"] = challenge
                if exc.status == 503:
                    headers["Retry-After"] = "5"
                return JSONResponse(body, status_code=exc.status, headers=headers)
            return JSONResponse({"ok": True, "sub": claims["sub"]})

        async def metadata(request: Request) -> Response:
            return JSONResponse(
                {
                    "resource": self.resource,
                    "authorization_servers": [self.issuer],
                    "scopes_supported": self.scope.split(),
                    "bearer_methods_supported": ["header"],
                    "dpop_bound_access_tokens_required": True,
                    "dpop_signing_alg_values_supported": ["ES256", "Ed25519"],
                    "mcpa_version": "draft-01",
                }
            )

        return Starlette(
            routes=[
                Route("/.well-known/oauth-protected-resource{rest:path}", metadata),
                Route("/mcp", protected, methods=["GET", "POST"]),
            ]
        )
