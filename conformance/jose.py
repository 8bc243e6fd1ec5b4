"""The suite's own small JOSE and DPoP code: independent of the reference by design.

The suite is the oracle, so it carries its own signing, verification and thumbprint code
(on ``cryptography`` only). It signs anything it is asked to, including tokens no correct
implementation would accept: the adversarial checks need that freedom.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

# RFC 9864: ES256 and Ed25519; the deprecated EdDSA is accepted as an alias of Ed25519
# (MCPA-TOK-023), never advertised (EMITTED_ALGS) or emitted by conformant code.
ALLOWED_ALGS = ("ES256", "Ed25519", "EdDSA")
EMITTED_ALGS = ("ES256", "Ed25519")
ED25519_ALGS = ("Ed25519", "EdDSA")
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


class JoseError(Exception):
    """A token or key the suite's own code refuses."""


def b64u(data: bytes) -> str:
    """base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_B64U_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def b64u_decode(text: str) -> bytes:
    """Strict base64url decoding: alphabet only, no padding, canonical trailing bits."""
    if not set(text) <= _B64U_ALPHABET or len(text) % 4 == 1:
        raise JoseError("invalid base64url")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64u(raw) != text:
        raise JoseError("non-canonical base64url")
    return raw


def b64u_json(obj: Any) -> str:
    return b64u(json.dumps(obj, separators=(",", ":")).encode("utf-8"))


def random_id(nbytes: int = 16) -> str:
    return b64u(os.urandom(nbytes))


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint, base64url."""
    kty = jwk.get("kty")
    if kty == "EC":
        members = {k: jwk[k] for k in ("crv", "kty", "x", "y")}
    elif kty == "OKP":
        members = {k: jwk[k] for k in ("crv", "kty", "x")}
    else:
        raise JoseError(f"unsupported kty {kty!r}")
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return b64u(hashlib.sha256(canonical).digest())


def ath(token: str) -> str:
    """The DPoP ``ath`` value for an access token (RFC 9449 section 4.2)."""
    return b64u(hashlib.sha256(token.encode("ascii")).digest())


@dataclass
class Key:
    """A private signing key with its JOSE identity."""

    alg: str
    kid: str
    private: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

    @classmethod
    def generate(cls, alg: str = "ES256", kid: str | None = None) -> Key:
        private: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
        if alg == "ES256":
            private = ec.generate_private_key(ec.SECP256R1())
        elif alg in ED25519_ALGS:
            private = ed25519.Ed25519PrivateKey.generate()
        else:
            raise JoseError(f"unsupported alg {alg!r}")
        key = cls(alg, kid or "", private)
        if not key.kid:
            key.kid = jwk_thumbprint(key.public_jwk(with_meta=False))[:16]
        return key

    @classmethod
    def from_jwk(cls, jwk: dict[str, Any]) -> Key:
        """Load a private JWK (EC P-256 or OKP Ed25519)."""
        if not isinstance(jwk, dict) or "d" not in jwk:
            raise JoseError("not a private JWK (no 'd')")
        private: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
        if jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
            d = int.from_bytes(b64u_decode(jwk["d"]), "big")
            private = ec.derive_private_key(d, ec.SECP256R1())
            alg = "ES256"
        elif jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
            private = ed25519.Ed25519PrivateKey.from_private_bytes(b64u_decode(jwk["d"]))
            alg = "EdDSA" if jwk.get("alg") == "EdDSA" else "Ed25519"
        else:
            raise JoseError("unsupported JWK: need EC P-256 or OKP Ed25519")
        key = cls(alg, str(jwk.get("kid", "")), private)
        if not key.kid:
            key.kid = jwk_thumbprint(key.public_jwk(with_meta=False))[:16]
        return key

    def public_jwk(self, *, with_meta: bool = True) -> dict[str, Any]:
        jwk: dict[str, Any]
        if isinstance(self.private, ec.EllipticCurvePrivateKey):
            nums = self.private.public_key().public_numbers()
            jwk = {
                "kty": "EC",
                "crv": "P-256",
                "x": b64u(nums.x.to_bytes(32, "big")),
                "y": b64u(nums.y.to_bytes(32, "big")),
            }
        else:
            raw = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
            jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64u(raw)}
        if with_meta:
            jwk.update({"kid": self.kid, "alg": self.alg, "use": "sig"})
        return jwk

    def private_jwk(self) -> dict[str, Any]:
        jwk = self.public_jwk()
        if isinstance(self.private, ec.EllipticCurvePrivateKey):
            d = self.private.private_numbers().private_value
            jwk["d"] = b64u(d.to_bytes(32, "big"))
        else:
            raw = self.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
            jwk["d"] = b64u(raw)
        return jwk

    def thumbprint(self) -> str:
        return jwk_thumbprint(self.public_jwk(with_meta=False))

    def sign(self, data: bytes) -> bytes:
        """A JWS signature: ES256 as 64-byte r||s (RFC 7518 section 3.4), Ed25519 raw."""
        if isinstance(self.private, ec.EllipticCurvePrivateKey):
            der = self.private.sign(data, ec.ECDSA(hashes.SHA256()))
            r, s = decode_dss_signature(der)
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return self.private.sign(data)

    def sign_der(self, data: bytes) -> bytes:
        """ES256 signature in DER form: a classic interoperability bug, never valid in JWS."""
        if not isinstance(self.private, ec.EllipticCurvePrivateKey):
            raise JoseError("DER signatures are ECDSA only")
        return self.private.sign(data, ec.ECDSA(hashes.SHA256()))


def sign_compact(header: dict[str, Any] | str, claims: dict[str, Any] | str, key: Key) -> str:
    """JWS compact serialisation. ``header``/``claims`` may be pre-serialised JSON text."""
    h = header if isinstance(header, str) else json.dumps(header, separators=(",", ":"))
    c = claims if isinstance(claims, str) else json.dumps(claims, separators=(",", ":"))
    signing_input = b64u(h.encode("utf-8")) + "." + b64u(c.encode("utf-8"))
    return signing_input + "." + b64u(key.sign(signing_input.encode("ascii")))


def decode_unverified(token: str) -> tuple[Any, Any]:
    """Best-effort decoding of header and claims for reports; never raises."""
    parts = token.split(".")
    out: list[Any] = []
    for part in parts[:2]:
        try:
            raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
            out.append(json.loads(raw.decode("utf-8")))
        except (ValueError, UnicodeDecodeError):
            out.append({"_undecodable": part[:200]})
    while len(out) < 2:
        out.append(None)
    return out[0], out[1]


def _strict_object(raw: bytes) -> dict[str, Any]:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, value in pairs:
            if name in result:
                raise JoseError(f"duplicate member {name!r}")
            result[name] = value
        return result

    try:
        obj = json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicates)
    except (UnicodeDecodeError, ValueError) as exc:
        raise JoseError(f"not JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise JoseError("not a JSON object")
    return obj


def parse_compact(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """Strictly parse a JWS compact token: (header, claims, signing input, signature)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise JoseError("not three segments")
    header = _strict_object(b64u_decode(parts[0]))
    claims = _strict_object(b64u_decode(parts[1]))
    signature = b64u_decode(parts[2])
    return header, claims, (parts[0] + "." + parts[1]).encode("ascii"), signature


def public_key_from_jwk(
    jwk: dict[str, Any],
) -> ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey:
    try:
        if jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
            x = int.from_bytes(b64u_decode(jwk["x"]), "big")
            y = int.from_bytes(b64u_decode(jwk["y"]), "big")
            return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
        if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
            return ed25519.Ed25519PublicKey.from_public_bytes(b64u_decode(jwk["x"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise JoseError(f"bad JWK: {exc}") from exc
    raise JoseError("unsupported JWK")


def key_matches_alg(jwk: dict[str, Any], alg: str) -> bool:
    if alg == "ES256":
        return jwk.get("kty") == "EC" and jwk.get("crv") == "P-256"
    if alg in ED25519_ALGS:
        return jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519"
    return False


def verify_signature(jwk: dict[str, Any], alg: str, signing_input: bytes, sig: bytes) -> bool:
    """Verify a JWS signature; ES256 must be exactly 64 bytes r||s with 0 < r, s < n."""
    if alg not in ALLOWED_ALGS or not key_matches_alg(jwk, alg):
        return False
    try:
        pub = public_key_from_jwk(jwk)
    except JoseError:
        return False
    try:
        if isinstance(pub, ec.EllipticCurvePublicKey):
            if len(sig) != 64:
                return False
            r = int.from_bytes(sig[:32], "big")
            s = int.from_bytes(sig[32:], "big")
            if not (0 < r < _P256_ORDER and 0 < s < _P256_ORDER):
                return False
            pub.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(hashes.SHA256()))
        else:
            if len(sig) != 64:
                return False
            pub.verify(sig, signing_input)
    except InvalidSignature:
        return False
    return True


def verify_with_jwks(token: str, jwks: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify a token against a JWKS by ``kid`` (alg allow-list first); return header, claims."""
    header, claims, signing_input, sig = parse_compact(token)
    alg = header.get("alg")
    if alg not in ALLOWED_ALGS:
        raise JoseError(f"alg {alg!r} not allowed")
    kid = header.get("kid")
    keys = [k for k in jwks.get("keys", []) if isinstance(k, dict) and k.get("kid") == kid]
    keys = [k for k in keys if key_matches_alg(k, str(alg))]
    if len(keys) != 1:
        raise JoseError(f"kid {kid!r} does not select exactly one key")
    if not verify_signature(keys[0], str(alg), signing_input, sig):
        raise JoseError("bad signature")
    return header, claims


def dpop_proof(
    key: Key,
    htm: str,
    htu: str,
    *,
    access_token: str | None = None,
    iat: int | None = None,
    jti: str | None = None,
    extra_claims: dict[str, Any] | None = None,
    header_overrides: dict[str, Any] | None = None,
) -> str:
    """A DPoP proof JWT (RFC 9449 section 4.2)."""
    header: dict[str, Any] = {
        "typ": "dpop+jwt",
        "alg": key.alg,
        "jwk": key.public_jwk(with_meta=False),
    }
    if header_overrides:
        header.update(header_overrides)
        header = {k: v for k, v in header.items() if v is not None}
    claims: dict[str, Any] = {
        "jti": jti or random_id(),
        "htm": htm,
        "htu": htu,
        "iat": int(time.time()) if iat is None else iat,
    }
    if access_token is not None:
        claims["ath"] = ath(access_token)
    if extra_claims:
        claims.update(extra_claims)
        claims = {k: v for k, v in claims.items() if v is not None}
    return sign_compact(header, claims, key)


def client_assertion(
    key: Key,
    client_id: str,
    audience: str | list[str],
    *,
    lifetime: int = 60,
    jti: str | None = None,
) -> str:
    """A private_key_jwt client assertion (RFC 7523 section 3)."""
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "exp": now + lifetime,
        "jti": jti or random_id(),
    }
    return sign_compact({"alg": key.alg, "typ": "JWT", "kid": key.kid}, claims, key)
