"""Reference MCP-Auth Verifier (resource server side).

Public API
----------
``VerifierSettings``                     configuration (issuer, resource, scopes, skew, limits)
``verify(...) -> Principal``             the pure algorithm, steps 2–15 (``core``)
``STEPS``                                the ordered list of steps
``Verifier``                             async, with providers and the verified-token cache
``MCPAuthMiddleware``, ``require_scopes``, ``get_principal``, ``www_authenticate``,
``error_response``                       Starlette / ASGI integration
``protected_resource_metadata``, ``metadata_route``, ``resource_metadata_url``,
``resource_metadata_path``               RFC 9728
``extract_credentials``                  step 1 over ASGI headers
``Principal``, ``Hop``                   the result
``IssuerKeys``, ``StatusLists``          async providers
``StaticStatus``, ``StatusListCache``    status lookups for tests and embedding
"""

from mcp_auth.reference.verifier.core import STEPS, Step, verify
from mcp_auth.reference.verifier.extract import Credentials, extract_credentials
from mcp_auth.reference.verifier.metadata import (
    metadata_route,
    protected_resource_metadata,
    resource_metadata_path,
    resource_metadata_url,
)
from mcp_auth.reference.verifier.middleware import (
    MCPAuthMiddleware,
    error_response,
    get_principal,
    require_scopes,
    www_authenticate,
)
from mcp_auth.reference.verifier.principal import Hop, Principal
from mcp_auth.reference.verifier.providers import IssuerKeys, StatusLists
from mcp_auth.reference.verifier.settings import VerifierSettings
from mcp_auth.reference.verifier.status_list import StaticStatus, StatusListCache
from mcp_auth.reference.verifier.verifier import Verifier

__all__ = [
    "STEPS",
    "Credentials",
    "Hop",
    "IssuerKeys",
    "MCPAuthMiddleware",
    "Principal",
    "StaticStatus",
    "StatusListCache",
    "StatusLists",
    "Step",
    "Verifier",
    "VerifierSettings",
    "error_response",
    "extract_credentials",
    "get_principal",
    "metadata_route",
    "protected_resource_metadata",
    "require_scopes",
    "resource_metadata_path",
    "resource_metadata_url",
    "verify",
    "www_authenticate",
]
