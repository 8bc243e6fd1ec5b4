"""Request-body helpers with the limits of Appendix A (MCPA-GEN-003).

``read_body`` stops reading past 64 KiB (413) and turns a client that disconnects mid-body
into a quiet ``invalid_request`` (one info line, no traceback); ``parse_form`` accepts only
``application/x-www-form-urlencoded`` with strict UTF-8, at most 32 parameters and none
repeated (MCPA-ISS-012); ``parse_json`` rejects bad UTF-8, lone surrogate escapes, duplicate
member names, NaN and Infinity, and excessive nesting.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from ..errors import InvalidRequest, OAuthError, RequestTooLarge
from .settings import MAX_BODY_BYTES, MAX_FORM_PARAMS

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
MAX_JSON_DEPTH = 16


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise InvalidRequest("malformed Content-Length", requirement="MCPA-GEN-003")
        if int(declared) > limit:
            raise RequestTooLarge("request body too large", requirement="MCPA-GEN-003")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise RequestTooLarge("request body too large", requirement="MCPA-GEN-003")
            chunks.append(chunk)
    except ClientDisconnect:
        # The client went away mid-body (or was cut off by the request timeout,
        # MCPA-SEC-020): a quiet close, one info line, not an unhandled 500.
        raise InvalidRequest(
            "the client closed the connection before sending its whole body",
            requirement="MCPA-GEN-003",
            detail=f"client closed the connection after {size} body bytes",
        ) from None
    return b"".join(chunks)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def decode_form(body: bytes) -> dict[str, str]:
    """Strict form decoding: ASCII body, UTF-8 percent-escapes, ≤ 32 distinct params."""
    try:
        text = body.decode("ascii")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=False,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FORM_PARAMS,
        )
    except UnicodeError as exc:
        raise InvalidRequest("the form is not valid UTF-8", requirement="MCPA-GEN-003") from exc
    except ValueError as exc:
        raise InvalidRequest("too many form parameters", requirement="MCPA-GEN-003") from exc
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise InvalidRequest(
                "a parameter is repeated",
                requirement="MCPA-ISS-012",
                detail=f"repeated parameter {name[:64]!r}",
            )
        form[name] = value
    return form


async def parse_form(request: Request, *, requirement: str = "MCPA-ISS-001") -> dict[str, str]:
    """The form of a token (MCPA-ISS-001), revocation or introspection (MCPA-REV-014) request."""
    body = await read_body(request)
    if _media_type(request) != "application/x-www-form-urlencoded":
        raise InvalidRequest(
            "the body must be application/x-www-form-urlencoded", requirement=requirement
        )
    return decode_form(body)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError("duplicate member name")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_JSON_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def decode_json(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")
        if text.count("[") + text.count("{") > 4096:
            raise ValueError("too deeply nested")
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
        # A lone surrogate escape ("\ud800") is not Unicode text: refuse it (UnicodeError).
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (UnicodeError, ValueError, RecursionError) as exc:
        raise InvalidRequest("the body is not valid JSON", requirement="MCPA-GRT-013") from exc
    if _depth(value) > MAX_JSON_DEPTH:
        raise InvalidRequest("the JSON body is nested too deeply", requirement="MCPA-GRT-013")
    return value


async def parse_json(request: Request) -> Any:
    body = await read_body(request)
    media = _media_type(request)
    if media and media != "application/json":
        raise InvalidRequest("the body must be application/json", requirement="MCPA-GRT-013")
    return decode_json(body)


_UNSAFE_DESCRIPTION = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


def safe_description(text: str) -> str:
    """RFC 6749 section 5.2 ``error_description`` characters only, at most 1024."""
    return _UNSAFE_DESCRIPTION.sub("?", text)[:1024]


def error_response(error: OAuthError, *, headers: dict[str, str] | None = None) -> Response:
    """RFC 6749 section 5.2 error JSON; never carries ``detail`` (MCPA-GEN-002)."""
    body = error.body()  # with mcpa_error and further members (MCPA-XCH-015, MCPA-GRT-026)
    body["error_description"] = safe_description(error.description)
    return JSONResponse(body, status_code=error.status, headers={**NO_STORE, **(headers or {})})


def json_response(body: Any, status: int = 200, *, cache: str | None = None) -> Response:
    headers = dict(NO_STORE) if cache is None else {"Cache-Control": cache}
    return JSONResponse(body, status_code=status, headers=headers)
