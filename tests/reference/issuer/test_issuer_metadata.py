"""Issuer metadata (RFC 8414 + mcpa_*) and the JWKS."""

from __future__ import annotations

from mcp_auth.schemas import validate

from .conftest import ISSUER, World


def test_metadata(world: World) -> None:
    response = world.http.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    assert "max-age" in response.headers["cache-control"]
    meta = response.json()
    validate("issuer-metadata", meta)
    assert meta["issuer"] == ISSUER
    assert meta["token_endpoint"] == f"{ISSUER}/token"
    assert meta["jwks_uri"] == f"{ISSUER}/jwks"
    assert meta["revocation_endpoint"] == f"{ISSUER}/revoke"
    assert meta["introspection_endpoint"] == f"{ISSUER}/introspect"
    assert meta["mcpa_grants_endpoint"] == f"{ISSUER}/grants"
    assert meta["mcpa_consent_endpoint"] == f"{ISSUER}/consent"
    assert meta["response_types_supported"] == []
    assert meta["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert meta["mcpa_version"] == "draft-01"
    assert meta["mcpa_max_chain_depth"] == 5
    assert meta["mcpa_max_token_lifetime"] == 300
    assert meta["mcpa_status_list_max_age"] == 60
    assert set(meta["mcpa_token_signing_alg_values_supported"]) == {"ES256", "Ed25519"}
    assert meta["mcpa_actor_types_supported"] == ["agent", "tool"]
    # RFC 9864: the deprecated EdDSA is accepted but never advertised
    assert not any("EdDSA" in v for k, v in meta.items() if k.endswith("alg_values_supported"))
    assert set(meta["grant_types_supported"]) == {
        "urn:ietf:params:oauth:grant-type:mcpa-grant",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    }


def test_jwks(world: World) -> None:
    response = world.http.get("/jwks")
    assert "max-age" in response.headers["cache-control"]
    keys = response.json()["keys"]
    assert {k["alg"] for k in keys} == {"ES256", "Ed25519"}
    assert len({k["kid"] for k in keys}) == len(keys)
    for key in keys:
        assert key["use"] == "sig" and "d" not in key
