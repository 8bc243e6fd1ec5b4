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
    assert set(body) <= {"error", "error_description", "error_uri"}
    assert "Traceback" not in response.text
    assert response.headers.get("cache-control") == "no-store"
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
