"""Issuer metadata (RFC 8414 plus the ``mcpa_*`` fields of CONTRACT.md section 3) and JWKS."""

from __future__ import annotations

from typing import Any

from mcp_auth import SPEC_VERSION

from ..jose import EMITTED_ALGS
from .settings import Settings

MCPA_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:mcpa-grant"
TOKEN_EXCHANGE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105
JWT_BEARER_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ACTOR_TYPES = ("agent", "tool")

# Metadata and JWKS may be cached briefly (MCPA-DSC-007); short enough for rotation.
DISCOVERY_CACHE_CONTROL = "public, max-age=300"


def issuer_metadata(settings: Settings) -> dict[str, Any]:
    algs = list(EMITTED_ALGS)  # the deprecated EdDSA alias is accepted, never advertised
    return {
        "issuer": settings.issuer_url,
        "token_endpoint": settings.token_endpoint,
        "jwks_uri": settings.url("/jwks"),
        "revocation_endpoint": settings.url("/revoke"),
        "introspection_endpoint": settings.url("/introspect"),
        "grant_types_supported": [MCPA_GRANT_TYPE, TOKEN_EXCHANGE_GRANT_TYPE],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": algs,
        "revocation_endpoint_auth_methods_supported": ["private_key_jwt"],
        "revocation_endpoint_auth_signing_alg_values_supported": algs,
        "introspection_endpoint_auth_methods_supported": ["private_key_jwt"],
        "introspection_endpoint_auth_signing_alg_values_supported": algs,
        "dpop_signing_alg_values_supported": algs,
        "mcpa_version": SPEC_VERSION,
        "mcpa_grants_endpoint": settings.grants_endpoint,
        "mcpa_consent_endpoint": settings.consent_endpoint,
        "mcpa_max_chain_depth": settings.max_chain_depth,
        "mcpa_max_token_lifetime": settings.max_token_lifetime,
        "mcpa_status_list_max_age": settings.status_list_max_age,
        "mcpa_token_signing_alg_values_supported": algs,
        "mcpa_actor_types_supported": list(ACTOR_TYPES),
    }
