"""Small helpers shared by the issuer tests."""

from __future__ import annotations

from typing import Any

import httpx

from mcp_auth.schemas import validate


def assert_error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    """The exact OAuth error, in the error-response schema, with no-store and no detail."""
    assert response.status_code == status, (response.status_code, response.text)
    body: dict[str, Any] = response.json()
    assert body["error"] == error, body
    validate("error-response", body)
    assert set(body) <= {"error", "error_description", "error_uri", "mcpa_error"}
    assert "Traceback" not in response.text
    assert response.headers.get("cache-control") == "no-store"
    return body


def assert_exchange_refused(response: httpx.Response, mcpa_error: str) -> dict[str, Any]:
    """An unacceptable subject token: 400 ``invalid_request`` with MCP-Auth's reason
    (RFC 8693 section 2.2.2, MCPA-XCH-015)."""
    body = assert_error(response, 400, "invalid_request")
    assert body.get("mcpa_error") == mcpa_error, body
    return body


def decode_claims(token: str) -> dict[str, Any]:
    import json

    from mcp_auth.reference.jose import b64url_decode

    result: dict[str, Any] = json.loads(b64url_decode(token.split(".")[1]))
    return result


def decode_header(token: str) -> dict[str, Any]:
    import json

    from mcp_auth.reference.jose import b64url_decode

    result: dict[str, Any] = json.loads(b64url_decode(token.split(".", maxsplit=1)[0]))
    return result
