"""The suite's own JOSE code, against published vectors."""

from __future__ import annotations

import pytest

from mcp_auth.conformance import jose
from tests import external_vectors as vectors


def test_rfc8037_ed25519_thumbprint():
    # RFC 8037 appendix A.3.
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    assert jose.jwk_thumbprint(jwk) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_rfc8037_ed25519_signature():
    # RFC 8037 appendix A.4/A.5: "Example of Ed25519 Signing".
    jwk = {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
    }
    token = (
        "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPO"
        "t7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
    )
    key = jose.Key.from_jwk(jwk)
    head, payload, sig = token.split(".")
    assert jose.b64u(key.sign(f"{head}.{payload}".encode())) == sig
    assert jose.verify_signature(jwk, "EdDSA", f"{head}.{payload}".encode(), jose.b64u_decode(sig))


def test_es256_roundtrip_and_der_rejected():
    key = jose.Key.generate("ES256", "k1")
    token = jose.sign_compact({"alg": "ES256", "kid": "k1"}, {"x": 1}, key)
    header, claims = jose.verify_with_jwks(token, {"keys": [key.public_jwk()]})
    assert (header["kid"], claims) == ("k1", {"x": 1})
    h, p, _ = token.split(".")
    der = jose.b64u(key.sign_der(f"{h}.{p}".encode()))
    with pytest.raises(jose.JoseError):
        jose.verify_with_jwks(f"{h}.{p}.{der}", {"keys": [key.public_jwk()]})


def test_private_jwk_roundtrip():
    for alg in ("ES256", "EdDSA"):
        key = jose.Key.generate(alg, "x")
        again = jose.Key.from_jwk(key.private_jwk())
        assert again.public_jwk() == key.public_jwk()


@pytest.mark.parametrize("text", ["a+b", "a/b", "ab==", "a", "a b", "YQ="])
def test_strict_base64url(text):
    with pytest.raises(jose.JoseError):
        jose.b64u_decode(text)


def test_duplicate_members_rejected():
    key = jose.Key.generate()
    token = jose.sign_compact('{"alg":"ES256","alg":"none"}', {"a": 1}, key)
    with pytest.raises(jose.JoseError):
        jose.parse_compact(token)


def test_ath():
    # RFC 9449 section 7.1 example.
    token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
    assert jose.ath(token) == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"


def test_wycheproof_es256_p1363_vectors():
    """The ES256 r||s verifier against Wycheproof's P1363 ECDSA P-256 SHA-256 vectors.

    The vendored copy in tests/vectors/ (or MCP_AUTH_VECTORS); a missing file fails.
    """
    data = vectors.read_json("wycheproof", "primitives", "ecdsa_secp256r1_sha256_p1363_test.json")
    checked = 0
    for group in data["testGroups"]:
        jwk = group.get("jwk") or group.get("publicKeyJwk")
        if jwk is None:
            continue
        for t in group["tests"]:
            if t["result"] == "acceptable":
                continue
            ok = jose.verify_signature(
                jwk, "ES256", bytes.fromhex(t["msg"]), bytes.fromhex(t["sig"])
            )
            assert ok == (t["result"] == "valid"), t["tcId"]
            checked += 1
    assert checked > 100
