"""DPoP proofs (RFC 9449): verification, a bounded replay cache, and proof creation.

Shared by the verifier (resource server, MCPA-VER-018..024) and the issuer's token
endpoint (which maps any ``InvalidDPoPProof`` onto MCPA-ISS-002).

Public API
----------
``ReplayCache(max_entries=100_000)``
    Bounded, thread-safe, time-expiring set of proof identifiers.
    ``check_and_store(key, expires_at, *, now=None) -> bool``: ``True`` when ``key``
    was unseen and is now stored; ``False`` when it was seen (a replay) or when the
    cache is full of unexpired entries (fail closed: new entries are refused, live
    ones are never evicted early). ``is_full(now)`` tells the two apart.
``verify_dpop_proof(proof, *, method, url, now, replay_cache, access_token=None,
max_age=60, skew=30, allowed_algs=ALLOWED_ALGS, status=None) -> DPoPProof``
    Checks, in order: length (4096), compact JWS parse, ``typ`` ``dpop+jwt``,
    ``alg`` on the allow-list, no ``crit``/``jku``/``x5u``/``x5c`` headers, ``jwk``
    a public P-256/Ed25519 key, signature, claim types, ``htm``,
    ``htu`` (RFC 3986 normalised, query and fragment ignored), ``iat`` in
    ``[now - max_age, now + skew]``, ``ath`` (only when ``access_token`` is given),
    the caller's ``key_binding(jkt)`` when given (the resource server's ``cnf.jkt``
    comparison, MCPA-VER-023, which raises its own error), and last ``jti`` replay (so
    rejected proofs, including proofs by a key other than ``cnf.jkt``, never fill the cache).
    Failures raise ``InvalidDPoPProof`` carrying the requirement ID (``status`` overrides its
    HTTP status: resource servers pass 401); a full replay cache raises
    ``TemporarilyUnavailable`` (503, MCPA-VER-037).
``make_dpop_proof(private_key, jwk, method, url, *, access_token=None, iat=None,
jti=None) -> str``
    A proof for clients and tests.
``normalize_htu(url) -> str | None``
    The comparison form of an HTTP(S) URL, or ``None`` when it is not one.
``ath_for(access_token) -> str``
    base64url(SHA-256(access_token)).
"""

from __future__ import annotations

import hashlib
import heapq
import ipaddress
import math
import re
import secrets
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from mcp_auth.reference.errors import InvalidDPoPProof, TemporarilyUnavailable
from mcp_auth.reference.jose import (
    ALLOWED_ALGS,
    ECDSA_SHA256,
    P256_ORDER,
    JoseError,
    PrivateKey,
    RawJWS,
    alg_for_key,
    b64url_encode,
    jwk_thumbprint,
    parse_compact,
    parse_compact_tail,
    public_key_from_jwk,
    sign_compact,
    verify_signature,
)

__all__ = [
    "MAX_PROOF_LENGTH",
    "DPoPProof",
    "ReplayCache",
    "ath_for",
    "make_dpop_proof",
    "normalize_htu",
    "verify_dpop_proof",
]

MAX_PROOF_LENGTH: Final = 4096
MAX_JTI_LENGTH: Final = 256

REQ_PROOF: Final = "MCPA-VER-018"
REQ_HTM: Final = "MCPA-VER-019"
REQ_HTU: Final = "MCPA-VER-020"
REQ_IAT: Final = "MCPA-VER-021"
REQ_ATH: Final = "MCPA-VER-022"
REQ_REPLAY: Final = "MCPA-VER-024"
REQ_REPLAY_FULL: Final = "MCPA-VER-037"

_FORBIDDEN_HEADERS: Final = ("crit", "jku", "x5u", "x5c", "x5t", "x5t#S256")


class ReplayCache:
    """A bounded set of seen identifiers, each kept until its own expiry time.

    Thread-safe. When full of unexpired entries it refuses new ones (fail closed)
    rather than evicting entries that could otherwise be replayed.

    Layout: a dict ``key -> expiry`` answers membership; identifiers are also grouped in
    one list per distinct expiry time, and a heap holds those times. Proof expiries are
    whole seconds (``iat + max_age + 1``), so under load an insert is a dict store and a
    list append; the heap grows by one entry per second, not per proof, and expired
    groups are dropped whole, at most once per distinct expiry (amortised O(1)).
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be positive")
        self.max_entries = max_entries
        self._entries: dict[str, float] = {}
        self._groups: dict[float, list[str]] = {}
        self._times: list[float] = []  # heap of the keys of _groups
        self._next_expiry = math.inf  # min(_times): nothing to purge before then
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def __bool__(self) -> bool:  # an empty cache is still a cache (`cache or default`)
        return True

    def _purge(self, now: float) -> None:
        times = self._times
        groups = self._groups
        entries = self._entries
        while times and times[0] <= now:
            expires_at = heapq.heappop(times)
            for key in groups.pop(expires_at):
                if entries.get(key) == expires_at:
                    del entries[key]
        self._next_expiry = times[0] if times else math.inf

    def check_and_store(self, key: str, expires_at: float, *, now: float | None = None) -> bool:
        """Store ``key`` until ``expires_at``; ``False`` if already present or full."""
        current = time.time() if now is None else now
        with self._lock:
            if self._next_expiry <= current:
                self._purge(current)
            entries = self._entries
            if key in entries:
                return False
            if expires_at <= current:
                # Already expired: nothing to remember, but it was not a replay.
                return True
            if len(entries) >= self.max_entries:
                return False
            entries[key] = expires_at
            group = self._groups.get(expires_at)
            if group is None:
                self._groups[expires_at] = [key]
                heapq.heappush(self._times, expires_at)
                self._next_expiry = self._times[0]
            else:
                group.append(key)
            return True

    def is_full(self, now: float | None = None) -> bool:
        """Whether the cache currently refuses new entries."""
        current = time.time() if now is None else now
        with self._lock:
            self._purge(current)
            return len(self._entries) >= self.max_entries


@dataclass(slots=True)  # not frozen: constructing frozen instances is slow
class DPoPProof:
    """A verified DPoP proof."""

    jkt: str
    jti: str
    jwk: Mapping[str, Any]
    iat: int
    htm: str
    htu: str
    alg: str


# ---------------------------------------------------------------------------
# htu normalisation (RFC 3986 section 6.2.2 syntax-based normalisation)

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_PCT_RE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_UNPARSEABLE = re.compile(r"[\x00-\x20\x7f\\]")
# IP literal (IPv6 with an optional RFC 6874 zone) or reg-name / IPv4, then an optional port.
_AUTHORITY = re.compile(
    r"(?:\[([0-9A-Fa-f:.]+)(?:%25[A-Za-z0-9\-._~%]+)?\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)"
    r"(?::[0-9]*)?"
)


def _pct(match: re.Match[str]) -> str:
    ch = chr(int(match.group(1), 16))
    return ch if ch in _UNRESERVED else "%" + match.group(1).upper()


def _remove_dot_segments(path: str) -> str:
    if "." not in path:
        return path
    out: list[str] = []
    segments = path.split("/")
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == ".":
            if last:
                out.append("")
        elif seg == "..":
            if len(out) > 1:
                out.pop()
            if last:
                out.append("")
        else:
            out.append(seg)
    result = "/".join(out)
    return result if result.startswith("/") else "/" + result


_HTU_CACHE: dict[str, str | None] = {}
_HTU_CACHE_MAX = 1024


def normalize_htu(url: str) -> str | None:
    """``scheme://host[:port]/path`` normalised, or ``None`` if not an HTTP(S) URL."""
    cached = _HTU_CACHE.get(url)
    if cached is not None:
        return cached
    result = _normalize_htu(url)
    if result is not None and len(url) <= 2048:
        if len(_HTU_CACHE) >= _HTU_CACHE_MAX:
            _HTU_CACHE.clear()
        _HTU_CACHE[url] = result
    return result


def _normalize_htu(url: str) -> str | None:
    if not isinstance(url, str) or not url.isascii() or len(url) > 8192:
        return None
    # Controls (urlsplit silently strips some of them), space and backslash never parse.
    if _UNPARSEABLE.search(url) is not None:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        return None
    host = parts.hostname
    if not host or parts.username is not None or parts.password is not None:
        return None
    # urlsplit ignores what follows an IP literal's "]" and unbrackets IPvFuture literals:
    # accept only an authority that is exactly host[:port] (RFC 3986 section 3.2).
    authority = _AUTHORITY.fullmatch(parts.netloc)
    if authority is None:
        return None
    if authority.group(1) is not None:
        try:
            ipaddress.IPv6Address(authority.group(1))
        except ValueError:
            return None
    host = host.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = _PCT_RE.sub(_pct, parts.path) or "/"
    path = _remove_dot_segments(path)
    return f"{scheme}://{netloc}{path}"


def ath_for(access_token: str) -> str:
    """The ``ath`` value for ``access_token``: base64url(SHA-256(ASCII token))."""
    return b64url_encode(hashlib.sha256(access_token.encode("utf-8")).digest())


# ---------------------------------------------------------------------------
# key cache: loading a JWK validates the point and the thumbprint needs JSON work;
# both are pure functions of the public JWK, so reuse them for a repeated key.

_KEY_CACHE: dict[tuple[object, ...], tuple[Any, str]] = {}
_KEY_CACHE_MAX = 4096


def _load_proof_key(jwk: Mapping[str, Any], alg: str, status: int | None) -> tuple[Any, str]:
    kty = jwk.get("kty")
    ident: tuple[object, ...]
    if kty == "EC":
        ident = (alg, "EC", jwk.get("crv"), jwk.get("x"), jwk.get("y"))
    elif kty == "OKP":
        ident = (alg, "OKP", jwk.get("crv"), jwk.get("x"))
    else:
        raise _proof_error("the DPoP jwk has an unsupported key type", REQ_PROOF, status)
    # Membership checks that the cached entry cannot answer.
    for member in ("d", "p", "q", "dp", "dq", "qi", "oth", "k"):
        if member in jwk:
            raise _proof_error("the DPoP jwk contains private key material", REQ_PROOF, status)
    cacheable = all(isinstance(v, str) for v in ident)
    if cacheable:
        hit = _KEY_CACHE.get(ident)
        if hit is not None and _jwk_extras_ok(jwk, alg):
            return hit
    try:
        key = public_key_from_jwk(jwk, alg)
        jkt = jwk_thumbprint(jwk)
    except JoseError as exc:
        raise _proof_error("the DPoP jwk is not a valid public key", REQ_PROOF, status) from exc
    if cacheable:
        if len(_KEY_CACHE) >= _KEY_CACHE_MAX:
            _KEY_CACHE.clear()
        _KEY_CACHE[ident] = (key, jkt)
    return key, jkt


def _jwk_extras_ok(jwk: Mapping[str, Any], alg: str) -> bool:
    """The checks of ``public_key_from_jwk`` that do not depend on the key material."""
    if "alg" in jwk and jwk["alg"] != alg:
        return False
    if "use" in jwk and jwk["use"] != "sig":
        return False
    return not (
        "key_ops" in jwk
        and (not isinstance(jwk["key_ops"], list) or "verify" not in jwk["key_ops"])
    )


# Proof headers repeat for every proof of one client key. Everything checked about a header
# except the caller's allow-list is a pure function of its text, so keep the result.
_CHECKED_HEADERS: dict[str, tuple[str, dict[str, Any], Any, str]] = {}
_CHECKED_HEADERS_MAX = 4096
_PROFILE_ALGS = frozenset(ALLOWED_ALGS)


def _check_header(
    header: dict[str, Any], status: int | None
) -> tuple[str, dict[str, Any], Any, str]:
    """typ, alg (within the profile), forbidden members, jwk; returns (alg, jwk, key, jkt)."""
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in ("dpop+jwt", "application/dpop+jwt"):
        raise _proof_error("DPoP proof typ must be dpop+jwt", REQ_PROOF, status)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in _PROFILE_ALGS:
        raise _proof_error("DPoP proof alg not allowed", REQ_PROOF, status)
    for name in _FORBIDDEN_HEADERS:
        if name in header:
            raise _proof_error(f"DPoP proof header must not contain {name}", REQ_PROOF, status)
    jwk = header.get("jwk")
    if type(jwk) is not dict:
        raise _proof_error("DPoP proof header jwk missing", REQ_PROOF, status)
    key, jkt = _load_proof_key(jwk, alg, status)
    return alg, jwk, key, jkt


def _proof_error(
    description: str, requirement: str, status: int | None, detail: str | None = None
) -> InvalidDPoPProof:
    return InvalidDPoPProof(description, requirement=requirement, status=status, detail=detail)


def verify_dpop_proof(
    proof: str,
    *,
    method: str,
    url: str,
    now: float,
    replay_cache: ReplayCache,
    access_token: str | None = None,
    max_age: int = 60,
    skew: int = 30,
    allowed_algs: Collection[str] = ALLOWED_ALGS,
    status: int | None = None,
    expected_ath: str | None = None,
    key_binding: Callable[[str], None] | None = None,
) -> DPoPProof:
    """Verify a DPoP proof for ``method`` ``url`` at time ``now`` (see module doc).

    ``expected_ath`` may carry a precomputed ``ath_for(access_token)``. ``key_binding`` is
    called with the proof key's thumbprint after every other proof check and before the
    replay check; it raises to refuse the key (MCPA-VER-023, spec section 5.2 step 12).
    """
    if not isinstance(proof, str) or not proof:
        raise _proof_error("DPoP proof missing", REQ_PROOF, status)
    if len(proof) > MAX_PROOF_LENGTH:
        raise _proof_error("DPoP proof is not a well-formed JWT", REQ_PROOF, status, "too_long")
    header_end = proof.find(".")
    checked = _CHECKED_HEADERS.get(proof[:header_end]) if header_end > 0 else None
    try:
        if checked is not None:
            # Fast path: this exact header was parsed and checked before; only the
            # payload and the signature are new.
            claims, signature, signing_input = parse_compact_tail(proof, header_end)
        else:
            jws = parse_compact(proof, max_length=MAX_PROOF_LENGTH)
            checked = _check_header(jws.header, status)
            segment = proof[:header_end]
            if len(segment) <= 1024:
                if len(_CHECKED_HEADERS) >= _CHECKED_HEADERS_MAX:
                    _CHECKED_HEADERS.clear()
                _CHECKED_HEADERS[segment] = checked
            claims, signature, signing_input = jws.payload, jws.signature, jws.signing_input
    except JoseError as exc:
        raise _proof_error(
            "DPoP proof is not a well-formed JWT", REQ_PROOF, status, exc.code
        ) from exc
    alg, jwk, key, jkt = checked
    if alg not in allowed_algs:
        raise _proof_error("DPoP proof alg not allowed", REQ_PROOF, status)
    try:
        if alg == "ES256":
            # verify_es256 written out (the per-request path): 64 bytes r || s with
            # 0 < r, s < n (CVE-2022-21449), one encode_dss_signature, cryptography verifies.
            if len(signature) != 64:
                raise JoseError("bad_signature", "ECDSA signature has the wrong length")
            r = int.from_bytes(signature[:32])
            s = int.from_bytes(signature[32:])
            if not (0 < r < P256_ORDER and 0 < s < P256_ORDER):
                raise JoseError("bad_signature", "ECDSA signature value out of range")
            try:
                key.verify(encode_dss_signature(r, s), signing_input, ECDSA_SHA256)
            except InvalidSignature as exc:
                raise JoseError("bad_signature", "signature does not verify") from exc
        else:
            verify_signature(
                RawJWS({"alg": alg}, b"", signing_input, signature),
                key,
                alg,
                allowed_algs=allowed_algs,
            )
    except JoseError as exc:
        raise _proof_error("DPoP proof signature invalid", REQ_PROOF, status, exc.code) from exc

    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
        raise _proof_error("DPoP proof jti missing or invalid", REQ_PROOF, status)
    htm = claims.get("htm")
    if not isinstance(htm, str) or htm != method:
        raise _proof_error("DPoP proof htm does not match the request method", REQ_HTM, status)
    htu = claims.get("htu")
    expected = _HTU_CACHE.get(url)
    if expected is None:
        expected = normalize_htu(url)
    # normalize_htu is a pure function: an htu identical to the URL normalises identically.
    if (
        not isinstance(htu, str)
        or expected is None
        or (htu != url and normalize_htu(htu) != expected)
    ):
        raise _proof_error("DPoP proof htu does not match the request URL", REQ_HTU, status)
    iat = claims.get("iat")
    if type(iat) is not int:
        raise _proof_error("DPoP proof iat missing or not an integer", REQ_IAT, status)
    if iat < now - max_age or iat > now + skew:
        raise _proof_error("DPoP proof iat outside the acceptable window", REQ_IAT, status)
    if access_token is not None:
        ath = claims.get("ath")
        if expected_ath is None:
            expected_ath = ath_for(access_token)
        # ath is derived from the token the presenter holds: not a secret, plain compare.
        if ath != expected_ath:
            raise _proof_error("DPoP proof ath does not match the access token", REQ_ATH, status)
    if key_binding is not None:
        key_binding(jkt)
    # Replay last: a proof that fails any other check never occupies the cache.
    if not replay_cache.check_and_store(f"{jkt}:{jti}", iat + max_age + 1, now=now):
        if replay_cache.is_full(now):
            raise TemporarilyUnavailable(
                "the server cannot accept DPoP proofs right now",
                requirement=REQ_REPLAY_FULL,
                detail="DPoP replay cache full",
            )
        raise _proof_error("DPoP proof jti has been used before", REQ_REPLAY, status)
    return DPoPProof(jkt, jti, jwk, iat, htm, htu, alg)


def make_dpop_proof(
    private_key: PrivateKey,
    jwk: Mapping[str, Any],
    method: str,
    url: str,
    *,
    access_token: str | None = None,
    iat: int | None = None,
    jti: str | None = None,
) -> str:
    """Create a DPoP proof signed by ``private_key`` whose header carries ``jwk``.

    ``htu`` is ``url`` without query and fragment. ``alg`` follows the key type.
    """
    alg = alg_for_key(private_key)
    htu = url.split("#", 1)[0].split("?", 1)[0]
    claims: dict[str, Any] = {
        "jti": jti if jti is not None else b64url_encode(secrets.token_bytes(16)),
        "htm": method,
        "htu": htu,
        "iat": int(time.time()) if iat is None else iat,
    }
    if access_token is not None:
        claims["ath"] = ath_for(access_token)
    header = {"typ": "dpop+jwt", "alg": alg, "jwk": dict(jwk)}
    return sign_compact(header, claims, private_key, alg)
