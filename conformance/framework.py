"""Checks, their registry, and the exceptions a check raises to say how it ended.

A check is a function taking the run context. It returns normally to pass, raises
:class:`Failed` (with the minimal counterexample) when the target does not meet the
requirement, and :class:`Skipped` when it cannot run. The check's severity decides whether a
failure fails the run (MUST) or warns (SHOULD).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx

from mcp_auth.conformance import jose

C = TypeVar("C")

MAX_BODY_IN_REPORT = 4000
# What counts as "accepted" unless the target config names its own success statuses.
SUCCESS_2XX: frozenset[int] = frozenset(range(200, 300))


class Failed(Exception):
    def __init__(self, reason: str, counterexample: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.counterexample = counterexample


class Skipped(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Check(Generic[C]):
    id: str
    title: str
    role: str
    requirements: tuple[str, ...]
    severity: str
    run: Callable[[C], None]


class Registry(Generic[C]):
    """An ordered list of checks for one role."""

    def __init__(self, role: str) -> None:
        self.role = role
        self.checks: list[Check[C]] = []

    def check(
        self, name: str, title: str, requirements: list[str], severity: str = "MUST"
    ) -> Callable[[Callable[[C], None]], Callable[[C], None]]:
        def deco(fn: Callable[[C], None]) -> Callable[[C], None]:
            check_id = f"{self.role}.{name}"
            if any(c.id == check_id for c in self.checks):
                raise ValueError(f"duplicate check id {check_id}")
            self.checks.append(Check(check_id, title, self.role, tuple(requirements), severity, fn))
            return fn

        return deco


def headers_json(headers: httpx.Headers | list[tuple[str, str]]) -> dict[str, str | list[str]]:
    """Header fields with lower-case names; a repeated field becomes a list."""
    out: dict[str, str | list[str]] = {}
    items = headers.multi_items() if isinstance(headers, httpx.Headers) else headers
    for name, value in items:
        key = name.lower()
        if key in out:
            prev = out[key]
            out[key] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            out[key] = value
    return out


def body_json(content: bytes | str | None, content_type: str = "") -> Any:
    if content is None:
        return ""
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    if "json" in content_type or text[:1] in "{[":
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text[:MAX_BODY_IN_REPORT]


def request_json(
    method: str, url: str, headers: list[tuple[str, str]], body: Any = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"method": method, "url": url, "headers": headers_json(headers)}
    if body is not None:
        out["body"] = body
    return out


def response_json(resp: httpx.Response) -> dict[str, Any]:
    return {
        "status": resp.status_code,
        "headers": headers_json(resp.headers),
        "body": body_json(resp.content, resp.headers.get("content-type", "")),
    }


def counterexample(
    resp: httpx.Response,
    *,
    token: str | None = None,
    note: str = "",
    body: Any = None,
) -> dict[str, Any]:
    """The counterexample of a failure: decoded token, the request, the response."""
    req = resp.request
    sent_body: Any = body
    if sent_body is None and req.content:
        sent_body = body_json(req.content, req.headers.get("content-type", ""))
    out: dict[str, Any] = {
        "request": request_json(
            req.method, str(req.url), list(req.headers.multi_items()), sent_body
        ),
        "response": response_json(resp),
    }
    if token:
        header, claims = jose.decode_unverified(token)
        if isinstance(header, dict):
            out["token_header"] = header
        if isinstance(claims, dict):
            out["token_claims"] = claims
    if note:
        out["note"] = note
    return out


def response_class(resp: httpx.Response, success: frozenset[int] = SUCCESS_2XX) -> str:
    """How a check reads an answer: ``accepted``, ``server_error`` or ``refused``.

    ``accepted`` is only a success status (any 2xx, or the statuses the target config lists
    as ``success_status``). A 5xx other than 503 (the spec's fail-closed answer) is a
    ``server_error``: never an acceptance, and never the refusal a rule requires, so a check
    expecting either fails on it. Everything else (3xx, 4xx, 503) is ``refused``; whether it
    is the *right* refusal is the check's business (status and OAuth ``error`` code).
    """
    if resp.status_code in success:
        return "accepted"
    if resp.status_code >= 500 and resp.status_code != 503:
        return "server_error"
    return "refused"


def oauth_error(resp: httpx.Response) -> str | None:
    try:
        body = resp.json()
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    return None


def expect_error(
    resp: httpx.Response,
    status: int | tuple[int, ...],
    error: str | tuple[str, ...],
    what: str,
    *,
    token: str | None = None,
) -> None:
    """Fail unless ``resp`` is an OAuth error response with the given status and code."""
    statuses = (status,) if isinstance(status, int) else status
    errors = (error,) if isinstance(error, str) else error
    got = oauth_error(resp)
    if resp.status_code not in statuses or got not in errors:
        raise Failed(
            f"{what}: expected HTTP {'/'.join(map(str, statuses))} error "
            f"{'/'.join(errors)}, got HTTP {resp.status_code} error {got!r}",
            counterexample(resp, token=token),
        )


def expect_refused_exchange(
    resp: httpx.Response,
    mcpa_error: str | tuple[str, ...],
    what: str,
    *,
    token: str | None = None,
) -> None:
    """An unacceptable subject token: 400 ``invalid_request`` (RFC 8693 section 2.2.2) with
    MCP-Auth's reason in ``mcpa_error`` (MCPA-XCH-015, spec Table 4-4)."""
    expect_error(resp, 400, "invalid_request", what, token=token)
    reasons = (mcpa_error,) if isinstance(mcpa_error, str) else mcpa_error
    try:
        body = resp.json()
    except ValueError:
        body = None
    got = body.get("mcpa_error") if isinstance(body, dict) else None
    if got not in reasons:
        raise Failed(
            f"{what}: expected mcpa_error {'/'.join(reasons)}, got {got!r}",
            counterexample(resp, token=token),
        )
