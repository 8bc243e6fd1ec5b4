"""Example files: valid ones validate, invalid ones fail for the reason their slug names.

Also checks that the examples agree with each other the way real protocol objects do:
thumbprints, the signed tokens, `ath`, the status list bits and the audit hash chain.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import ValidationError

from mcp_auth import schemas

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "schemas" / "examples"
ALL = sorted(EXAMPLES.glob("*/*.json"))
VALID = [p for p in ALL if p.name.startswith("valid")]
INVALID = [p for p in ALL if p.name.startswith("invalid")]

# The spec pages include these files; they must exist under exactly these names.
INCLUDED = [
    "delegation-token-header/valid-es256.json",
    "delegation-token-claims/valid-initial.json",
    "delegation-token-claims/valid-exchanged.json",
    "actor-hop/valid-tool.json",
    "grant/valid-active.json",
    "grant/valid-pending.json",
    "grant-create-request/valid-client.json",
    "grant-create-request/valid-admin.json",
    "token-request-grant/valid.json",
    "token-request-exchange/valid.json",
    "token-response/valid.json",
    "error-response/valid-invalid-grant.json",
    "error-response/valid-exchange-refused.json",
    "token-request-exchange/valid-tool-model.json",
    "introspection-response/valid-active.json",
    "introspection-response/valid-inactive.json",
    "issuer-metadata/valid.json",
    "resource-metadata/valid.json",
    "audit-event/valid-token-exchanged.json",
    "status-list-token-claims/valid.json",
    "dpop-proof-header/valid.json",
    "dpop-proof-claims/valid.json",
    "client-assertion-claims/valid.json",
    "conformance-target/valid-reference.json",
    "conformance-report/valid.json",
    "requirements-catalog/valid-minimal.json",
    "badge-endpoint/valid.json",
]

# Where the slug alone does not name what the error report shows: the expected clue.
CLUE: dict[str, str] = {
    "introspection-response/invalid-inactive-with-claims": "maxProperties",
    "conformance-target/invalid-no-section": "anyOf",
}
STOPWORDS = {
    "missing", "with", "without", "not", "too", "long", "unknown", "present", "empty",
    "string", "float", "array", "zero", "one", "two", "four", "short", "padded", "hex",
    "uppercase", "lowercase", "nonzero", "first", "typo", "key", "keys", "value", "logged",
}  # fmt: skip


def load(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


def example(rel: str) -> Any:
    return load(EXAMPLES / rel)


def ident(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwt_parts(token: str) -> tuple[Any, Any]:
    header, payload, _ = token.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(payload))


def thumbprint(jwk: dict[str, str]) -> str:
    members = {k: jwk[k] for k in ("crv", "kty", "x", "y")}
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode("ascii")).digest())


def all_errors(errors: Iterator[ValidationError]) -> Iterator[ValidationError]:
    for error in errors:
        yield error
        yield from all_errors(iter(error.context or ()))


NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def named_members(error: ValidationError) -> set[str]:
    """Member names an error report points at: its path and the members it names."""
    names = set(NAME.findall(error.json_path.removeprefix("$")))
    if error.validator in ("required", "additionalProperties", "dependentRequired"):
        names.update(re.findall(r"'([^']+)'", error.message))
    if error.validator == "not" and isinstance(error.validator_value, dict):
        names.update(error.validator_value.get("required", []))
    return {n.lower() for n in names}


def slug_words(slug: str) -> list[str]:
    """Member names a slug may mean: runs of its words joined by `_` or nothing."""
    words = slug.split("-")[1:]
    runs = {
        sep.join(words[i:j])
        for i in range(len(words))
        for j in range(i + 1, len(words) + 1)
        for sep in ("_", "")
    }
    return sorted(r for r in runs if r not in STOPWORDS)


def points_at(error: ValidationError, word: str) -> bool:
    return any(n == word or (len(word) >= 4 and n.startswith(word)) for n in named_members(error))


def test_every_schema_has_examples() -> None:
    for name in schemas.names():
        names = [p.name for p in (EXAMPLES / name).glob("*.json")]
        assert sum(n.startswith("valid") for n in names) >= 1, name
        assert sum(n.startswith("invalid") for n in names) >= 2, name


def test_every_example_folder_names_a_schema() -> None:
    folders = {p.name for p in EXAMPLES.iterdir() if p.is_dir()}
    assert folders <= set(schemas.names()), folders - set(schemas.names())


@pytest.mark.parametrize("rel", INCLUDED)
def test_included_example_exists(rel: str) -> None:
    assert (EXAMPLES / rel).is_file(), rel


@pytest.mark.parametrize("path", ALL, ids=ident)
def test_example_is_pretty_printed(path: Path) -> None:
    text = path.read_text("utf-8")
    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("path", VALID, ids=ident)
def test_valid_example_validates(path: Path) -> None:
    schemas.validate(path.parent.name, load(path))


@pytest.mark.parametrize("path", INVALID, ids=ident)
def test_invalid_example_fails_for_its_reason(path: Path) -> None:
    errors = list(all_errors(schemas.validator(path.parent.name).iter_errors(load(path))))
    assert errors, f"{ident(path)} validates"
    expected = CLUE.get(ident(path))
    if expected is None:
        words = slug_words(path.stem)
        ok = any(points_at(e, w) for e in errors for w in words)
    elif expected.startswith("$"):
        ok = any(e.json_path == expected for e in errors)
    else:
        ok = any(e.validator == expected for e in errors)
    said = [(e.json_path, e.validator, e.message[:80]) for e in errors]
    assert ok, (ident(path), expected or slug_words(path.stem), said)


# ---- consistency between examples -------------------------------------------------------


def test_dpop_keys_match_token_thumbprints() -> None:
    agent_key = example("dpop-proof-header/valid.json")["jwk"]
    tool_key = example("dpop-proof-header/valid-tool.json")["jwk"]
    initial = example("delegation-token-claims/valid-initial.json")
    exchanged = example("delegation-token-claims/valid-exchanged.json")
    assert initial["cnf"]["jkt"] == thumbprint(agent_key)
    assert exchanged["cnf"]["jkt"] == thumbprint(tool_key)
    assert example("introspection-response/valid-active.json")["cnf"] == exchanged["cnf"]


def test_tokens_in_requests_are_the_example_tokens() -> None:
    header = example("delegation-token-header/valid-es256.json")
    initial = example("delegation-token-claims/valid-initial.json")
    response = example("token-response/valid.json")
    assert jwt_parts(response["access_token"]) == (header, initial)
    exchange = example("token-request-exchange/valid.json")
    assert exchange["subject_token"] == response["access_token"]
    assert jwt_parts(example("token-request-grant/valid.json")["client_assertion"])[1] == example(
        "client-assertion-claims/valid.json"
    )
    proof = example("dpop-proof-claims/valid-resource.json")
    digest = hashlib.sha256(response["access_token"].encode("ascii")).digest()
    assert proof["ath"] == b64url(digest)
    assert proof["htu"] == initial["aud"]
    at_token_endpoint = example("dpop-proof-claims/valid.json")
    assert at_token_endpoint["htu"] == example("issuer-metadata/valid.json")["token_endpoint"]
    assert "ath" not in at_token_endpoint


def test_exchange_attenuates() -> None:
    initial = example("delegation-token-claims/valid-initial.json")
    exchanged = example("delegation-token-claims/valid-exchanged.json")
    assert set(exchanged["scope"].split()) <= set(initial["scope"].split())
    assert exchanged["exp"] <= initial["exp"]
    assert exchanged["act"]["act"] == initial["act"]
    for claim in ("sub", "grant_id", "status", "iss"):
        assert exchanged[claim] == initial[claim]
    grant = example("grant/valid-active.json")
    assert exchanged["aud"] in grant["resources"] and initial["aud"] in grant["resources"]
    assert initial["status"]["mcpa_grant_list"] == grant["status_list"]
    assert initial["act"]["actor_type"] == "agent" and initial["act"]["sub"] == grant["client_id"]
    assert initial["act"]["mcpa_model"] in grant["models"]
    assert exchanged["act"]["sub"] == exchanged["client_id"] in grant["tools"]


def test_status_list_bits() -> None:
    claims = example("status-list-token-claims/valid.json")
    bits = zlib.decompress(b64url_decode(claims["status_list"]["lst"]))
    assert len(bits) == 2**17 // 8

    def bit(i: int) -> int:
        return (bits[i // 8] >> (i % 8)) & 1

    assert bit(example("grant/valid-active.json")["status_list"]["idx"]) == 0
    assert bit(example("grant/valid-revoked.json")["status_list"]["idx"]) == 1


def test_generated_examples_are_current() -> None:
    """The signed and derived examples are what tools/gen_examples.py writes (deterministic:
    RFC 6979 ECDSA, Ed25519), so regenerating changes nothing."""
    import runpy

    gen = runpy.run_path(str(ROOT / "tools" / "gen_examples.py"))
    assert gen["main"](["--check"]) == 0


def test_example_tokens_verify_with_the_example_keys() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    from cryptography.hazmat.primitives.hashes import SHA256

    keys = json.loads((ROOT / "tools" / "example_keys.json").read_text("utf-8"))["keys"]
    by_kid = {k["kid"]: k for k in keys.values()}
    tokens = [
        example("token-response/valid.json")["access_token"],
        example("token-request-grant/valid.json")["client_assertion"],
        example("token-request-exchange/valid.json")["client_assertion"],
    ]
    for token in tokens:
        header, _ = jwt_parts(token)
        jwk = by_kid[header["kid"]]
        head, body, sig = token.split(".")
        raw = b64url_decode(sig)
        public = ec.EllipticCurvePublicNumbers(
            int.from_bytes(b64url_decode(jwk["x"]), "big"),
            int.from_bytes(b64url_decode(jwk["y"]), "big"),
            ec.SECP256R1(),
        ).public_key()
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        public.verify(der, f"{head}.{body}".encode("ascii"), ec.ECDSA(SHA256()))


def audit_hash(event: dict[str, Any]) -> str:
    body = {k: v for k, v in event.items() if k != "hash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_audit_examples_form_a_hash_chain() -> None:
    events = sorted(
        (load(p) for p in (EXAMPLES / "audit-event").glob("valid-*.json")), key=lambda e: e["seq"]
    )
    by_seq = {e["seq"]: e for e in events}
    assert by_seq[1]["prev_hash"] == "0" * 64
    for event in events:
        assert event["hash"] == audit_hash(event), event["event_id"]
        if event["seq"] - 1 in by_seq:
            assert event["prev_hash"] == by_seq[event["seq"] - 1]["hash"]


@pytest.mark.parametrize(
    "path", sorted((EXAMPLES / "audit-event").glob("invalid-*.json")), ids=ident
)
def test_invalid_audit_events_are_wrong_only_in_their_slug(path: Path) -> None:
    # A mutated event carries a recomputed hash, so the schema failure is the only defect
    # (except where the hash itself is the defect).
    if "hash" not in path.stem.removeprefix("invalid-").replace("prev-hash", ""):
        event = load(path)
        assert event["hash"] == audit_hash(event)
