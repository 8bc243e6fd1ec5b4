"""Strict JOSE primitives for MCP-Auth: base64url, compact JWS, JWK, thumbprints.

Used by the verifier, the issuer and the DPoP module. Every signature goes through
``cryptography``; nothing here implements a primitive itself.

Public API
----------
``b64url_encode(data) -> str`` / ``b64url_decode(text) -> bytes``
    Unpadded base64url (RFC 7515 section 2). Decoding is strict: alphabet
    ``A-Za-z0-9-_`` only, no padding, no whitespace, canonical (non-zero trailing
    bits are rejected), so that exactly one text encodes each byte string.
``JoseError(code, message)``
    The only exception raised for bad input. ``code`` is a stable string (see
    ``ERROR_CODES``); callers map it onto their own typed OAuth errors.
``parse_compact(token, *, max_length) -> CompactJWS``
    Three segments, header and payload JSON objects in UTF-8, no duplicate member
    names, no NaN/Infinity. ``parse_compact_raw`` keeps the payload as bytes (used
    for the test vectors, whose payloads are not JSON).
``public_key_from_jwk(jwk, alg)``
    Loads a public key for exactly ``alg``. Our profile uses ES256 (EC P-256) and
    Ed25519 (OKP Ed25519, also under the deprecated alias EdDSA); RSA (RS*/PS*) and
    ``oct`` (HS*) exist only so the external test vectors can be run, and only when
    the caller names that ``alg``. Private members are refused; EC points are
    validated by ``cryptography``.
``verify_signature(jws, key, alg, *, allowed_algs=ALLOWED_ALGS)``
    Checks ``alg`` against the allow-list argument, the header ``alg`` against the
    pinned ``alg``, the key type against ``alg``, then the signature. ES* signatures
    are the fixed-size ``r || s`` of RFC 7518 with ``0 < r, s < n`` checked before
    they are converted to DER for ``cryptography`` (CVE-2022-21449).
``load_jwks(jwks, *, allowed_algs) -> KeySet`` and ``KeySet.select(kid, alg)``
    A JWK Set whose ``select`` returns exactly one key or raises.
``jwk_thumbprint(jwk) -> str``
    RFC 7638 SHA-256 thumbprint, base64url.
``sign_compact(header, payload, private_key, alg) -> str``
    Compact JWS for ES256 / Ed25519 (issuer, clients, tests).
``canonical_alg``, ``same_alg``, ``advertised_algs``
    The RFC 9864 alias rule: ``EdDSA`` is accepted as ``Ed25519``, never emitted.
``generate_private_key(alg)``, ``private_jwk(key, kid)``, ``public_jwk(key, kid, alg)``
    Key helpers.

Hot path notes: a compact JWS is split with ``str.find``, encoded to ASCII once and passed
once through ``bytes.translate`` with a table that maps base64url onto the standard
alphabet and every other byte onto a marker, so a single ``in`` test finds any character
outside the alphabet; each segment is then decoded by ``binascii.a2b_base64`` in strict
mode (C code) after a canonical-tail check of its last character, and each JSON text is
parsed once by the C scanner (flat objects such as DPoP proof payloads without the
duplicate-name hook, see ``_flat_object``). pyjwt's ``decode`` validates base64 character
by character in Python and parses more than once, which costs about two to three raw
ES256 verifications; we avoid it on the hot path.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import json.scanner
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
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

__all__ = [
    "ALLOWED_ALGS",
    "DEPRECATED_ALIASES",
    "ECDSA_SHA256",
    "EMITTED_ALGS",
    "ERROR_CODES",
    "P256_ORDER",
    "CompactJWS",
    "HmacKey",
    "JoseError",
    "KeySet",
    "PrivateKey",
    "PublicKey",
    "RawJWS",
    "VerificationKey",
    "advertised_algs",
    "alg_for_key",
    "b64url_decode",
    "b64url_encode",
    "canonical_alg",
    "generate_private_key",
    "jwk_thumbprint",
    "load_jwks",
    "parse_compact",
    "parse_compact_raw",
    "parse_compact_tail",
    "private_jwk",
    "private_key_from_jwk",
    "public_jwk",
    "public_key_from_jwk",
    "same_alg",
    "sign_compact",
    "verify_es256",
    "verify_signature",
]

#: The MCP-Auth profile (MCPA-TOK-023): ES256 and Ed25519 ([RFC9864]), plus the deprecated
#: polymorphic ``EdDSA`` (Ed25519 only), accepted as an alias and never emitted. Nothing else.
ALLOWED_ALGS: Final[tuple[str, ...]] = ("ES256", "Ed25519", "EdDSA")

#: What MCP-Auth signs with and advertises (metadata, ``algs=``): never the alias.
EMITTED_ALGS: Final[tuple[str, ...]] = ("ES256", "Ed25519")

#: Deprecated identifiers accepted in place of the fully-specified one (RFC 9864 section 2.2).
DEPRECATED_ALIASES: Final[dict[str, str]] = {"EdDSA": "Ed25519"}


def canonical_alg(alg: str) -> str:
    """The fully-specified identifier for ``alg`` (``EdDSA`` → ``Ed25519``)."""
    return DEPRECATED_ALIASES.get(alg, alg)


def same_alg(a: object, b: object) -> bool:
    """Whether two ``alg`` values name the same algorithm (the alias counts as equal)."""
    return isinstance(a, str) and isinstance(b, str) and canonical_alg(a) == canonical_alg(b)


def advertised_algs(algs: Iterable[str]) -> list[str]:
    """``algs`` without deprecated aliases: the values metadata and challenges list."""
    return [a for a in algs if a not in DEPRECATED_ALIASES]


#: Stable error codes carried by ``JoseError.code``.
ERROR_CODES: Final[frozenset[str]] = frozenset(
    {
        "malformed",  # not three segments, wrong type, empty header
        "too_long",  # longer than max_length
        "bad_base64",  # outside the alphabet, padding, non-canonical tail
        "bad_json",  # not UTF-8, not JSON, NaN/Infinity, too deep, huge number
        "not_object",  # header or payload is JSON but not an object
        "duplicate_member",  # a JSON object repeats a member name
        "alg_not_allowed",  # alg not on the allow-list argument
        "alg_mismatch",  # header alg differs from the pinned alg, or key alg differs
        "bad_key",  # JWK malformed, wrong kty/crv/use/key_ops, invalid point, weak
        "private_key",  # JWK carries private members where a public key is required
        "key_mismatch",  # key object does not fit alg
        "bad_signature",  # wrong length, out of range, or does not verify
        "unknown_kid",  # no key in the set for kid/alg
        "ambiguous_kid",  # more than one key for kid/alg
        "bad_keyset",  # JWK Set malformed or mixes symmetric and asymmetric keys
    }
)


class JoseError(Exception):
    """Bad JOSE input. ``code`` is one of ``ERROR_CODES`` and never changes meaning."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"JoseError({self.code!r}, {self.message!r})"


@dataclass(frozen=True, slots=True)
class HmacKey:
    """A symmetric key; only for the HS* test vectors, never in the MCP-Auth profile."""

    secret: bytes = field(repr=False)


PublicKey: TypeAlias = ec.EllipticCurvePublicKey | Ed25519PublicKey | rsa.RSAPublicKey
PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | Ed25519PrivateKey
VerifyKey: TypeAlias = PublicKey | HmacKey

# ---------------------------------------------------------------------------
# base64url

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_INDEX: Final[dict[str, int]] = {c: i for i, c in enumerate(_ALPHABET)}
_B64_RE = re.compile(r"[A-Za-z0-9_-]*")


_STD_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url of ``data``."""
    return (
        binascii.b2a_base64(data, newline=False)
        .translate(_STD_TO_URLSAFE)
        .rstrip(b"=")
        .decode("ascii")
    )


# base64url -> standard base64, byte for byte; "." is kept (it separates JWS segments) and
# every other byte outside the base64url alphabet becomes "!", which no base64 decoder
# accepts. One C-level ``bytes.translate`` over a whole compact JWS therefore both prepares
# its segments for ``binascii.a2b_base64`` and marks every invalid character.
_TO_STD: Final = bytes(
    {ord("-"): ord("+"), ord("_"): ord("/")}.get(b, b)
    if chr(b) in _INDEX or b == ord(".")
    else ord("!")
    for b in range(256)
)
_PAD = (b"", b"", b"==", b"=")
_a2b = binascii.a2b_base64


def _decode_std(data: bytes, last: str) -> bytes:
    """Decode ``data``: base64url text already passed through ``_TO_STD`` and known to
    hold no invalid character; ``last`` is its last character before translation.

    ``strict_mode`` makes the C decoder refuse anything but the alphabet and our padding
    (it is also faster than the lenient mode). Canonical form (zero trailing bits) is
    checked on the last character, since several texts would otherwise decode to the same
    bytes (malleability).
    """
    rem = len(data) & 3
    if not rem:
        return _a2b(data, strict_mode=True)
    if rem == 1:
        raise JoseError("bad_base64", "base64url text has an impossible length")
    if _INDEX[last] & (0x0F if rem == 2 else 0x03):
        raise JoseError("bad_base64", "base64url text has non-zero trailing bits")
    return _a2b(data + _PAD[rem], strict_mode=True)


def _decode_checked(text: str) -> bytes:
    """Decode text already known to match ``[A-Za-z0-9_-]*``."""
    return _decode_std(text.encode("ascii").translate(_TO_STD), text[-1] if text else "")


def b64url_decode(text: str) -> bytes:
    """Strictly decode unpadded, canonical base64url (RFC 7515 section 2)."""
    if not isinstance(text, str):
        raise JoseError("bad_base64", "base64url input must be text")
    if _B64_RE.fullmatch(text) is None:
        raise JoseError("bad_base64", "base64url text contains a character outside the alphabet")
    try:
        return _decode_checked(text)
    except binascii.Error as exc:  # pragma: no cover - excluded by the checks above
        raise JoseError("bad_base64", "invalid base64url text") from exc


# ---------------------------------------------------------------------------
# JSON

_MAX_JSON_DEPTH = 32
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise JoseError("duplicate_member", "a JSON object repeats a member name")
    return obj


def _reject_constant(name: str) -> Any:
    raise JoseError("bad_json", f"JSON constant {name} is not allowed")


# One decoder for all calls: ``json.loads`` with hooks would build a new one each time.
_DECODER = json.JSONDecoder(object_pairs_hook=_pairs_hook, parse_constant=_reject_constant)
# The C scanner with _DECODER's hooks (typeshed types make_scanner's argument oddly).
_SCAN: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(_DECODER)  # type: ignore[arg-type]


# The hook-free C scanner, faster by half; its result is used only by ``_flat_object``,
# which accepts it only when it provably holds no repeated name and no constant.
_PLAIN_SCAN: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]


def _flat_object(text: str) -> dict[str, Any] | None:
    """``text`` parsed, if it is one flat JSON object of string and integer members that
    provably names no member twice; otherwise ``None`` (the full decoder then decides).

    For a text without ``\\``, every ``"`` delimits a string, so the text holds exactly
    ``count('"') / 2`` strings: each member name plus each string value. A repeated name
    would add at least one string the resulting dict does not account for, so
    ``count('"') == 2 * (members + string values)`` proves there is none. The caller has
    checked that no ``{`` after the first character and no ``[`` occur, so nothing nests;
    ``NaN``/``Infinity`` (floats), ``true``/``false``/``null`` and escapes (hence lone
    surrogates) all fall back. A DPoP proof payload (jti, htm, htu, iat, ath) takes this path.
    """
    try:
        value, end = _PLAIN_SCAN(text, 0)
    except (StopIteration, ValueError):
        return None
    if end != len(text) or type(value) is not dict:
        return None
    kinds = list(map(type, value.values()))
    strings = kinds.count(str)
    if strings + kinds.count(int) != len(kinds) or text.count('"') != 2 * (len(kinds) + strings):
        return None
    return value


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JoseError("bad_json", f"{what} is not valid UTF-8") from exc
    if "\\" not in text and text.find("{", 1) < 0 and "[" not in text:
        flat = _flat_object(text)
        if flat is not None:
            return flat
    # Cheap bound on nesting before handing the text to the recursive parser.
    if text.count("{") + text.count("[") > _MAX_JSON_DEPTH and _depth(text) > _MAX_JSON_DEPTH:
        raise JoseError("bad_json", f"{what} JSON is nested too deeply")
    try:
        try:
            # Fast path: the C scanner directly, when the text is exactly one value.
            value, end = _SCAN(text, 0)
            if end != len(text):
                raise ValueError("not exactly one JSON value")
        except (StopIteration, ValueError):
            # Leading/trailing whitespace (allowed) or an error: the full decoder decides.
            value = _DECODER.decode(text)
    except JoseError:
        raise
    except (ValueError, RecursionError) as exc:
        raise JoseError("bad_json", f"{what} is not valid JSON") from exc
    if type(value) is not dict:
        raise JoseError("not_object", f"{what} is not a JSON object")
    if "\\" in text and _SURROGATE_ESCAPE.search(text) is not None:
        # A \uD8xx escape is only fine as half of a pair; a lone one cannot be UTF-8.
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise JoseError("bad_json", f"{what} contains a lone surrogate") from exc
    return value


def _depth(text: str) -> int:
    depth = best = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
            best = max(best, depth)
        elif ch in "}]":
            depth -= 1
    return best


# ---------------------------------------------------------------------------
# compact JWS


@dataclass(slots=True)  # not frozen: constructing frozen instances is slow
class RawJWS:
    """A parsed compact JWS whose payload is kept as bytes."""

    header: dict[str, Any]
    payload_bytes: bytes
    signing_input: bytes
    signature: bytes


@dataclass(slots=True)  # not frozen: constructing frozen instances is slow
class CompactJWS:
    """A parsed compact JWS with a JSON-object payload (not yet verified)."""

    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes


def _segments(token: str, max_length: int) -> tuple[bytes, bytes, int, int]:
    """The ASCII bytes of a compact JWS, the same translated by ``_TO_STD``, and the
    positions of its two dots. Refuses a wrong type or length, a segment count other than
    three, an empty header and any character outside base64url, in that order; a handful
    of C calls (``find``, ``encode``, ``translate``) and no per-character Python work."""
    if not isinstance(token, str):
        raise JoseError("malformed", "a compact JWS must be text")
    if len(token) > max_length:
        raise JoseError("too_long", f"compact JWS longer than {max_length} characters")
    first = token.find(".")
    second = token.find(".", first + 1) if first >= 0 else -1
    if second < 0 or token.find(".", second + 1) >= 0:
        raise JoseError("malformed", "a compact JWS has exactly three segments")
    if not first:
        raise JoseError("malformed", "the JWS protected header is empty")
    try:
        raw = token.encode("ascii")
    except UnicodeEncodeError:
        raw = b"!"
    std = raw.translate(_TO_STD)
    if b"!" in std:
        raise JoseError("bad_base64", "a JWS segment contains a character outside base64url")
    return raw, std, first, second


def parse_compact_raw(token: str, *, max_length: int) -> RawJWS:
    """Parse a compact JWS, keeping the payload as bytes (may be empty)."""
    raw, std, first, second = _segments(token, max_length)
    header = _json_object(_decode_std(std[:first], token[first - 1]), "JWS header")
    payload = _decode_std(std[first + 1 : second], token[second - 1])
    signature = _decode_std(std[second + 1 :], token[-1])
    return RawJWS(header, payload, raw[:second], signature)


# Protected headers repeat: every token of one issuer key, every proof of one client key
# share theirs. Parsing is a pure function of the segment text, so remember a few.
_HEADER_CACHE: dict[str, dict[str, Any]] = {}
_HEADER_CACHE_MAX = 512
_HEADER_CACHE_MAX_LEN = 1024


def _parse_header(segment: str) -> dict[str, Any]:
    cached = _HEADER_CACHE.get(segment)
    if cached is not None:
        return dict(cached)  # a fresh top-level dict: callers may not poison the cache
    header = _json_object(_decode_checked(segment), "JWS header")
    if len(segment) <= _HEADER_CACHE_MAX_LEN:
        if len(_HEADER_CACHE) >= _HEADER_CACHE_MAX:
            _HEADER_CACHE.clear()
        _HEADER_CACHE[segment] = dict(header)
    return header


def parse_compact_tail(token: str, header_end: int) -> tuple[dict[str, Any], bytes, bytes]:
    """Payload (JSON object), signature and signing input of a compact JWS whose header
    segment ``token[:header_end]`` the caller has already parsed and checked.

    Same rules as ``parse_compact`` for the remaining segments (both non-empty), except
    that every structural fault, a character outside base64url included, is reported as
    ``malformed``. The caller bounds the length. This is the per-request path of a DPoP
    proof whose header is known, so the common case is written out in one function:
    ``_decode_std`` and ``_json_object`` run only to report a fault or for payloads that
    ``_flat_object`` leaves to the full decoder.
    """
    second = token.find(".", header_end + 1)
    if (
        header_end < 1
        or second <= header_end + 1
        or token[header_end] != "."
        or second == len(token) - 1
        or token.find(".", second + 1) >= 0
    ):
        raise JoseError("malformed", "a compact JWS has exactly three non-empty segments")
    try:
        raw = token.encode("ascii")
    except UnicodeEncodeError:
        raise JoseError(
            "malformed", "a JWS segment contains a character outside base64url"
        ) from None
    std = raw.translate(_TO_STD)
    if std.find(b"!", header_end) >= 0:
        raise JoseError("malformed", "a JWS segment contains a character outside base64url")
    segment = std[header_end + 1 : second]
    rem = len(segment) & 3
    if rem and (rem == 1 or _INDEX[token[second - 1]] & (0x0F if rem == 2 else 0x03)):
        _decode_std(segment, token[second - 1])  # raises the precise error
    data = _a2b(segment + _PAD[rem], strict_mode=True)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = "\\"  # not taken by the fast path below; _json_object reports it
    payload = (
        _flat_object(text)
        if "\\" not in text and text.find("{", 1) < 0 and "[" not in text
        else None
    )
    if payload is None:
        payload = _json_object(data, "JWS payload")
    segment = std[second + 1 :]
    rem = len(segment) & 3
    if rem and (rem == 1 or _INDEX[token[-1]] & (0x0F if rem == 2 else 0x03)):
        _decode_std(segment, token[-1])  # raises the precise error
    signature = _a2b(segment + _PAD[rem], strict_mode=True)
    return payload, signature, raw[:second]


def parse_compact(token: str, *, max_length: int) -> CompactJWS:
    """Parse a compact JWS whose header and payload are JSON objects. Verifies nothing.

    All three segments must be non-empty. Nested values of ``header`` (e.g. a DPoP
    ``jwk``) may be shared between calls and must be treated as read-only.
    """
    raw, std, first, second = _segments(token, max_length)
    header = _parse_header(token[:first])
    payload = _json_object(_decode_std(std[first + 1 : second], token[second - 1]), "JWS payload")
    if second == len(token) - 1:
        raise JoseError("malformed", "the JWS signature segment is empty")
    signature = _decode_std(std[second + 1 :], token[-1])
    return CompactJWS(header, payload, raw[:second], signature)


# ---------------------------------------------------------------------------
# algorithms


@dataclass(frozen=True, slots=True)
class _Alg:
    family: str  # "EC" | "OKP" | "RSA" | "RSA-PSS" | "oct"
    hash: type[hashes.HashAlgorithm] | None
    crv: str | None = None
    size: int = 0  # EC coordinate / scalar size in bytes; HMAC minimum key size
    order: int = 0  # EC group order n


_P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_P384_N = int(
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
    16,
)
_P521_N = int(
    "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
    "FA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
    16,
)

_ALGS: Final[dict[str, _Alg]] = {
    "ES256": _Alg("EC", hashes.SHA256, "P-256", 32, _P256_N),
    "ES384": _Alg("EC", hashes.SHA384, "P-384", 48, _P384_N),
    "ES512": _Alg("EC", hashes.SHA512, "P-521", 66, _P521_N),
    "Ed25519": _Alg("OKP", None, "Ed25519", 32),
    "EdDSA": _Alg("OKP", None, "Ed25519", 32),  # deprecated alias (RFC 9864)
    "RS256": _Alg("RSA", hashes.SHA256),
    "RS384": _Alg("RSA", hashes.SHA384),
    "RS512": _Alg("RSA", hashes.SHA512),
    "PS256": _Alg("RSA-PSS", hashes.SHA256),
    "PS384": _Alg("RSA-PSS", hashes.SHA384),
    "PS512": _Alg("RSA-PSS", hashes.SHA512),
    "HS256": _Alg("oct", hashes.SHA256, size=32),
    "HS384": _Alg("oct", hashes.SHA384, size=48),
    "HS512": _Alg("oct", hashes.SHA512, size=64),
}

_CURVES: Final[dict[str, ec.EllipticCurve]] = {
    "P-256": ec.SECP256R1(),
    "P-384": ec.SECP384R1(),
    "P-521": ec.SECP521R1(),
}
_CURVE_NAMES: Final[dict[str, str]] = {
    "secp256r1": "P-256",
    "secp384r1": "P-384",
    "secp521r1": "P-521",
}
_SHA256 = hashes.SHA256()
_ECDSA_SHA256 = ec.ECDSA(_SHA256)
#: For callers that write the ES256 core out (the DPoP per-request path): the P-256 group
#: order ``n`` and the one ``ECDSA(SHA256())`` instance.
P256_ORDER: Final = _P256_N
ECDSA_SHA256: Final = _ECDSA_SHA256

_PRIVATE_MEMBERS: Final[dict[str, tuple[str, ...]]] = {
    "EC": ("d",),
    "OKP": ("d",),
    "RSA": ("d", "p", "q", "dp", "dq", "qi", "oth"),
}

# ROCA (CVE-2017-15361) fingerprint: the modulus of an affected key lies in the
# subgroup generated by 65537 modulo each of these small primes.
_ROCA_PRIMES = (
    3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79,
    83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
)  # fmt: skip


def _roca_subgroup(p: int) -> frozenset[int]:
    seen = {1}
    g = x = 65537 % p
    while x not in seen:
        seen.add(x)
        x = (x * g) % p
    return frozenset(seen)


_ROCA_TABLE = tuple((p, _roca_subgroup(p)) for p in _ROCA_PRIMES)


def _roca_fingerprint(n: int) -> bool:
    return all(n % p in group for p, group in _ROCA_TABLE)


def _alg_info(alg: str) -> _Alg:
    info = _ALGS.get(alg) if isinstance(alg, str) else None
    if info is None:
        raise JoseError("alg_not_allowed", "unsupported algorithm")
    return info


# ---------------------------------------------------------------------------
# JWK → key


def _member_bytes(jwk: Mapping[str, Any], name: str, size: int | None = None) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str) or not value:
        raise JoseError("bad_key", f"JWK member {name!r} missing or not a string")
    data = b64url_decode(value)
    if size is not None and len(data) != size:
        raise JoseError("bad_key", f"JWK member {name!r} has the wrong length")
    return data


def _check_jwk_common(jwk: Mapping[str, Any], alg: str, family: str) -> None:
    if not isinstance(jwk, Mapping):
        raise JoseError("bad_key", "a JWK must be a JSON object")
    kty = jwk.get("kty")
    expected_kty = "RSA" if family == "RSA-PSS" else family
    if kty != expected_kty:
        raise JoseError("bad_key", "JWK kty does not fit the algorithm")
    if "alg" in jwk and jwk["alg"] != alg:
        raise JoseError("alg_mismatch", "JWK alg differs from the algorithm in use")
    if "use" in jwk and jwk["use"] != "sig":
        raise JoseError("bad_key", "JWK use is not 'sig'")
    if "key_ops" in jwk:
        ops = jwk["key_ops"]
        if not isinstance(ops, list) or "verify" not in ops:
            raise JoseError("bad_key", "JWK key_ops does not allow 'verify'")
    for member in _PRIVATE_MEMBERS.get(expected_kty, ()):
        if member in jwk:
            raise JoseError("private_key", "JWK carries private key members")


def public_key_from_jwk(jwk: Mapping[str, Any], alg: str) -> VerifyKey:
    """Load the verification key for exactly ``alg`` from a public JWK.

    Raises ``JoseError`` (``bad_key``, ``private_key``, ``alg_mismatch``,
    ``alg_not_allowed``) for anything else. ``oct`` keys (HS*) return ``HmacKey``
    and are accepted only when ``alg`` is HS*; the MCP-Auth profile never passes one.
    """
    info = _alg_info(alg)
    _check_jwk_common(jwk, alg, info.family)
    if info.family == "EC":
        assert info.crv is not None
        if jwk.get("crv") != info.crv:
            raise JoseError("bad_key", "JWK crv does not fit the algorithm")
        x = _member_bytes(jwk, "x", info.size)
        y = _member_bytes(jwk, "y", info.size)
        try:
            return ec.EllipticCurvePublicKey.from_encoded_point(_CURVES[info.crv], b"\x04" + x + y)
        except ValueError as exc:
            raise JoseError("bad_key", "EC point is not on the curve") from exc
    if info.family == "OKP":
        if jwk.get("crv") != "Ed25519":
            raise JoseError("bad_key", "only Ed25519 OKP keys are supported")
        x = _member_bytes(jwk, "x", 32)
        try:
            return Ed25519PublicKey.from_public_bytes(x)
        except (ValueError, UnsupportedAlgorithm) as exc:  # pragma: no cover
            raise JoseError("bad_key", "invalid Ed25519 public key") from exc
    if info.family in ("RSA", "RSA-PSS"):
        n = int.from_bytes(_member_bytes(jwk, "n"), "big")
        e = int.from_bytes(_member_bytes(jwk, "e"), "big")
        if n.bit_length() < 2048:
            raise JoseError("bad_key", "RSA modulus shorter than 2048 bits")
        if e < 3 or e % 2 == 0:
            raise JoseError("bad_key", "RSA public exponent is invalid")
        if _roca_fingerprint(n):
            raise JoseError("bad_key", "RSA key has the ROCA fingerprint (CVE-2017-15361)")
        try:
            return rsa.RSAPublicNumbers(e, n).public_key()
        except ValueError as exc:
            raise JoseError("bad_key", "invalid RSA public key") from exc
    # oct
    secret = _member_bytes(jwk, "k")
    if len(secret) < info.size:
        raise JoseError("bad_key", "HMAC key shorter than the hash output")
    return HmacKey(secret)


# ---------------------------------------------------------------------------
# signatures


def _check_key_type(key: object, info: _Alg) -> None:
    ok: bool
    if info.family == "EC":
        ok = (
            isinstance(key, ec.EllipticCurvePublicKey)
            and _CURVE_NAMES.get(key.curve.name) == info.crv
        )
    elif info.family == "OKP":
        ok = isinstance(key, Ed25519PublicKey)
    elif info.family in ("RSA", "RSA-PSS"):
        ok = isinstance(key, rsa.RSAPublicKey)
    else:
        ok = isinstance(key, HmacKey)
    if not ok:
        raise JoseError("key_mismatch", "the key does not fit the algorithm")


def verify_es256(key: ec.EllipticCurvePublicKey, signature: bytes, message: bytes) -> None:
    """ES256 core: 64-byte ``r || s``, ``0 < r, s < n`` (CVE-2022-21449), DER, verify.

    For callers that already hold a P-256 key obtained for ES256 (``verify_signature``
    checks that; the DPoP module loads its keys with ``public_key_from_jwk(jwk, "ES256")``).
    Raises ``JoseError("bad_signature")``.
    """
    if len(signature) != 64:
        raise JoseError("bad_signature", "ECDSA signature has the wrong length")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    if not (0 < r < _P256_N and 0 < s < _P256_N):
        raise JoseError("bad_signature", "ECDSA signature value out of range")
    try:
        key.verify(encode_dss_signature(r, s), message, _ECDSA_SHA256)
    except InvalidSignature as exc:
        raise JoseError("bad_signature", "signature does not verify") from exc


def verify_signature(
    jws: CompactJWS | RawJWS,
    key: object,
    alg: str,
    *,
    allowed_algs: Collection[str] = ALLOWED_ALGS,
) -> None:
    """Verify ``jws`` with ``key`` under the pinned ``alg``; raise ``JoseError`` if not.

    Order: ``alg`` on ``allowed_algs`` (before the key is touched), header ``alg``
    equal to ``alg``, key type fits ``alg``, signature format, signature.
    """
    if alg not in allowed_algs:
        raise JoseError("alg_not_allowed", "algorithm not on the allow-list")
    info = _alg_info(alg)
    if not same_alg(jws.header.get("alg"), alg):
        raise JoseError("alg_mismatch", "header alg differs from the expected algorithm")
    _check_key_type(key, info)
    sig = jws.signature
    msg = jws.signing_input
    if alg == "ES256":
        assert isinstance(key, ec.EllipticCurvePublicKey)
        verify_es256(key, sig, msg)
        return
    try:
        if info.family == "EC":
            assert isinstance(key, ec.EllipticCurvePublicKey)
            assert info.hash is not None
            size = info.size
            if len(sig) != 2 * size:
                raise JoseError("bad_signature", "ECDSA signature has the wrong length")
            r = int.from_bytes(sig[:size], "big")
            s = int.from_bytes(sig[size:], "big")
            # CVE-2022-21449 ("psychic signatures"): r = s = 0 must never verify.
            if not (0 < r < info.order and 0 < s < info.order):
                raise JoseError("bad_signature", "ECDSA signature value out of range")
            ecdsa = _ECDSA_SHA256 if alg == "ES256" else ec.ECDSA(info.hash())
            key.verify(encode_dss_signature(r, s), msg, ecdsa)
        elif info.family == "OKP":
            assert isinstance(key, Ed25519PublicKey)
            if len(sig) != 64:
                raise JoseError("bad_signature", "Ed25519 signature has the wrong length")
            key.verify(sig, msg)
        elif info.family == "RSA":
            assert isinstance(key, rsa.RSAPublicKey)
            assert info.hash is not None
            if len(sig) != (key.key_size + 7) // 8:
                raise JoseError("bad_signature", "RSA signature has the wrong length")
            key.verify(sig, msg, padding.PKCS1v15(), info.hash())
        elif info.family == "RSA-PSS":
            assert isinstance(key, rsa.RSAPublicKey)
            assert info.hash is not None
            if len(sig) != (key.key_size + 7) // 8:
                raise JoseError("bad_signature", "RSA signature has the wrong length")
            h = info.hash()
            key.verify(sig, msg, padding.PSS(padding.MGF1(h), h.digest_size), h)
        else:
            assert isinstance(key, HmacKey)
            assert info.hash is not None
            mac = crypto_hmac.HMAC(key.secret, info.hash())
            mac.update(msg)
            mac.verify(sig)
    except InvalidSignature as exc:
        raise JoseError("bad_signature", "signature does not verify") from exc


# ---------------------------------------------------------------------------
# JWK Sets


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """One usable key of a JWK Set, bound to one algorithm."""

    kid: str | None
    alg: str
    key: VerifyKey
    jwk: Mapping[str, Any] = field(repr=False)


_DEFAULT_ALG: Final[dict[tuple[str, str], str]] = {
    ("EC", "P-256"): "ES256",
    ("EC", "P-384"): "ES384",
    ("EC", "P-521"): "ES512",
    ("OKP", "Ed25519"): "Ed25519",
}


@dataclass(frozen=True)
class KeySet:
    """Keys of a JWK Set usable under the allow-list it was loaded with."""

    keys: tuple[VerificationKey, ...]
    ambiguous_kids: frozenset[str] = frozenset()
    rejected: int = 0

    def select(self, kid: object, alg: str) -> VerificationKey:
        """Exactly one key with this ``kid`` (a string) usable with ``alg``."""
        if not isinstance(kid, str):
            raise JoseError("unknown_kid", "kid missing or not a string")
        if kid in self.ambiguous_kids:
            raise JoseError("ambiguous_kid", "more than one key has this kid")
        found = [k for k in self.keys if k.kid == kid and same_alg(k.alg, alg)]
        if not found:
            raise JoseError("unknown_kid", "no key for this kid and algorithm")
        if len(found) > 1:  # pragma: no cover - excluded by ambiguous_kids
            raise JoseError("ambiguous_kid", "more than one key for this kid")
        return found[0]

    def kids(self) -> frozenset[str]:
        return frozenset(k.kid for k in self.keys if k.kid is not None)


def load_jwks(jwks: object, *, allowed_algs: Collection[str] = ALLOWED_ALGS) -> KeySet:
    """Load a JWK Set for verification under ``allowed_algs``.

    The set must be ``{"keys": [ ... ]}``. A set mixing symmetric and asymmetric keys
    is refused (``bad_keyset``). Keys that are malformed, private, weak, not for
    signing or not usable with an allowed algorithm are skipped (counted in
    ``rejected``). A ``kid`` carried by several keys is ambiguous and never selected.
    A key without ``alg`` is usable only with the one algorithm its curve implies.
    """
    if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list):
        raise JoseError("bad_keyset", "a JWK Set is an object with a 'keys' array")
    entries = jwks["keys"]
    if not all(isinstance(e, Mapping) for e in entries):
        raise JoseError("bad_keyset", "every JWK Set member must be an object")
    ktys = {str(e.get("kty")) for e in entries}
    if "oct" in ktys and len(ktys) > 1:
        raise JoseError("bad_keyset", "JWK Set mixes symmetric and asymmetric keys")
    seen: dict[str, int] = {}
    for e in entries:
        kid = e.get("kid")
        if isinstance(kid, str):
            seen[kid] = seen.get(kid, 0) + 1
    ambiguous = frozenset(k for k, n in seen.items() if n > 1)
    keys: list[VerificationKey] = []
    rejected = 0
    for e in entries:
        kid = e.get("kid")
        alg = e.get("alg")
        if alg is None:
            alg = _DEFAULT_ALG.get((str(e.get("kty")), str(e.get("crv"))))
        if not isinstance(alg, str) or alg not in allowed_algs:
            rejected += 1
            continue
        try:
            key = public_key_from_jwk(e, alg)
        except JoseError:
            rejected += 1
            continue
        keys.append(VerificationKey(kid if isinstance(kid, str) else None, alg, key, e))
    return KeySet(tuple(keys), ambiguous, rejected)


# ---------------------------------------------------------------------------
# thumbprints and key helpers

_THUMBPRINT_MEMBERS: Final[dict[str, tuple[str, ...]]] = {
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
    "RSA": ("e", "kty", "n"),
    "oct": ("k", "kty"),
}


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 JWK SHA-256 thumbprint, base64url (the value of ``cnf.jkt``)."""
    if not isinstance(jwk, Mapping):
        raise JoseError("bad_key", "a JWK must be a JSON object")
    kty = jwk.get("kty")
    members = _THUMBPRINT_MEMBERS.get(kty) if isinstance(kty, str) else None
    if members is None:
        raise JoseError("bad_key", "unsupported JWK kty")
    parts = []
    for name in members:
        value = jwk.get(name)
        if not isinstance(value, str):
            raise JoseError("bad_key", f"JWK member {name!r} missing or not a string")
        parts.append(f"{json.dumps(name)}:{json.dumps(value, ensure_ascii=False)}")
    canonical = "{" + ",".join(parts) + "}"
    return b64url_encode(hashlib.sha256(canonical.encode("utf-8")).digest())


def _json_b64(value: Mapping[str, Any]) -> str:
    return b64url_encode(
        json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    )


def sign_compact(
    header: Mapping[str, Any], payload: Mapping[str, Any], private_key: PrivateKey, alg: str
) -> str:
    """Sign ``payload`` as a compact JWS with ES256 or Ed25519.

    ``header["alg"]`` is set to ``alg`` (a different value there is an error). The
    deprecated ``EdDSA`` is signable only so that tests can exercise the alias; the
    issuer and clients sign with ``alg_for_key``, which never returns it.
    """
    if alg not in ALLOWED_ALGS:
        raise ValueError(f"sign_compact supports only {ALLOWED_ALGS}")
    if header.get("alg", alg) != alg:
        raise ValueError("header alg differs from alg")
    full_header = {"alg": alg, **{k: v for k, v in header.items() if k != "alg"}}
    signing_input = f"{_json_b64(full_header)}.{_json_b64(payload)}"
    data = signing_input.encode("ascii")
    if alg == "ES256":
        if not isinstance(private_key, ec.EllipticCurvePrivateKey) or not isinstance(
            private_key.curve, ec.SECP256R1
        ):
            raise ValueError("ES256 needs a P-256 private key")
        r, s = decode_dss_signature(private_key.sign(data, _ECDSA_SHA256))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    else:
        if not isinstance(private_key, Ed25519PrivateKey):
            raise ValueError("Ed25519 needs an Ed25519 private key")
        sig = private_key.sign(data)
    return f"{signing_input}.{b64url_encode(sig)}"


def generate_private_key(alg: str) -> PrivateKey:
    """A fresh private key for ``alg`` (ES256 → P-256, Ed25519 or EdDSA → Ed25519)."""
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg in ("Ed25519", "EdDSA"):
        return Ed25519PrivateKey.generate()
    raise ValueError(f"unsupported algorithm {alg!r}")


def alg_for_key(key: PrivateKey | PublicKey) -> str:
    """The JWS ``alg`` of a P-256 (ES256) or Ed25519 (Ed25519, never the alias) key."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if isinstance(key.curve, ec.SECP256R1):
            return "ES256"
        raise ValueError("only P-256 EC keys are supported")
    if isinstance(key, Ed25519PrivateKey | Ed25519PublicKey):
        return "Ed25519"
    raise ValueError("unsupported key type")


def _public_members(key: PrivateKey | PublicKey) -> dict[str, str]:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        key = key.public_key()
    if isinstance(key, Ed25519PrivateKey):
        key = key.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise ValueError("only P-256 EC keys are supported")
        nums = key.public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url_encode(nums.x.to_bytes(32, "big")),
            "y": b64url_encode(nums.y.to_bytes(32, "big")),
        }
    if isinstance(key, Ed25519PublicKey):
        raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}
    raise ValueError("unsupported key type")


def public_jwk(
    key: PrivateKey | PublicKey, kid: str | None = None, alg: str | None = None
) -> dict[str, str]:
    """Public JWK of ``key``. With ``kid``/``alg`` given, adds ``kid``, ``alg``, ``use``.

    Called without ``kid`` and ``alg`` it returns only the key members (the form a
    DPoP proof carries in its ``jwk`` header).
    """
    jwk = _public_members(key)
    if kid is not None:
        jwk["kid"] = kid
    if alg is not None:
        if not same_alg(alg, alg_for_key(key)):
            raise ValueError("alg does not fit the key")
        jwk["alg"] = alg
        jwk["use"] = "sig"
    return jwk


def private_jwk(key: PrivateKey, kid: str | None = None) -> dict[str, str]:
    """Private JWK (with ``d``) of ``key``, with ``kid`` and ``alg`` when given a kid."""
    jwk = _public_members(key)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        d = key.private_numbers().private_value.to_bytes(32, "big")
    elif isinstance(key, Ed25519PrivateKey):
        d = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    else:
        raise ValueError("unsupported key type")
    jwk["d"] = b64url_encode(d)
    if kid is not None:
        jwk["kid"] = kid
        jwk["alg"] = alg_for_key(key)
        jwk["use"] = "sig"
    return jwk


def private_key_from_jwk(jwk: Mapping[str, Any]) -> PrivateKey:
    """Load a P-256 or Ed25519 private key from a private JWK (issuer key storage)."""
    kty = jwk.get("kty")
    if kty == "EC" and jwk.get("crv") == "P-256":
        d = int.from_bytes(_member_bytes(jwk, "d", 32), "big")
        key = ec.derive_private_key(d, ec.SECP256R1())
        if _public_members(key) != {k: jwk.get(k) for k in ("kty", "crv", "x", "y")}:
            raise JoseError("bad_key", "private JWK x/y do not match d")
        return key
    if kty == "OKP" and jwk.get("crv") == "Ed25519":
        okp = Ed25519PrivateKey.from_private_bytes(_member_bytes(jwk, "d", 32))
        if _public_members(okp)["x"] != jwk.get("x"):
            raise JoseError("bad_key", "private JWK x does not match d")
        return okp
    raise JoseError("bad_key", "unsupported private JWK")


def iter_public_jwks(keys: Iterable[tuple[str, PrivateKey]]) -> list[dict[str, str]]:
    """Public JWKs (kid, alg, use) for ``(kid, private_key)`` pairs: a JWKS ``keys`` list."""
    return [public_jwk(k, kid, alg_for_key(k)) for kid, k in keys]
