"""RFC 9728 protected resource metadata (MCPA-DSC-005) and its route.

``resource_metadata_path(resource)`` is the path-inserted well-known path
(``https://mcp.example/mcp`` → ``/.well-known/oauth-protected-resource/mcp``);
``resource_metadata_url(resource)`` the absolute URL sent in every challenge
(MCPA-DSC-006); ``protected_resource_metadata(settings)`` the document;
``metadata_route(settings)`` a Starlette ``Route`` serving it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mcp_auth import SPEC_VERSION
from mcp_auth.reference.jose import advertised_algs

if TYPE_CHECKING:
    from mcp_auth.reference.verifier.settings import VerifierSettings

WELL_KNOWN = "/.well-known/oauth-protected-resource"


def resource_metadata_path(resource: str) -> str:
    path = urlsplit(resource).path.rstrip("/")
    return WELL_KNOWN + path


def resource_metadata_url(resource: str) -> str:
    parts = urlsplit(resource)
    return f"{parts.scheme}://{parts.netloc}{resource_metadata_path(resource)}"


def protected_resource_metadata(settings: VerifierSettings) -> dict[str, Any]:
    scopes = settings.scopes_supported or tuple(sorted(settings.required_scopes))
    return {
        "resource": settings.resource,
        "authorization_servers": [settings.issuer],
        "scopes_supported": list(scopes),
        "bearer_methods_supported": ["header"],
        "dpop_bound_access_tokens_required": True,
        "dpop_signing_alg_values_supported": advertised_algs(settings.allowed_algs),
        "mcpa_version": SPEC_VERSION,
    }


def metadata_route(settings: VerifierSettings) -> Route:
    document = protected_resource_metadata(settings)

    async def endpoint(request: Request) -> JSONResponse:
        del request
        return JSONResponse(document, headers={"Cache-Control": "public, max-age=300"})

    return Route(resource_metadata_path(settings.resource), endpoint, methods=["GET"])
