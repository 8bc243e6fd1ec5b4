"""What counts as accepted: only a success status, never a server error."""

from __future__ import annotations

import io

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from mcp_auth.conformance import oracle, runner
from mcp_auth.conformance.config import VerifierConfig
from mcp_auth.conformance.framework import SUCCESS_2XX, response_class
from mcp_auth.conformance.profiles import PROFILES
from mcp_auth.conformance.verifier import accepted, mismatch
from tests.conformance.broken.server import serve
from tests.loopback import free_port


def answer(
    status: int, headers: dict[str, str] | None = None, body: object = None
) -> httpx.Response:
    return httpx.Response(
        status, headers=headers, json=body, request=httpx.Request("POST", "http://127.0.0.1/")
    )


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, "accepted"),
        (204, "accepted"),
        (302, "refused"),
        (404, "refused"),
        (401, "refused"),
        (503, "refused"),  # the spec's fail-closed answer is a refusal
        (500, "server_error"),
        (501, "server_error"),
        (502, "server_error"),
    ],
)
def test_response_class(status, expected):
    assert response_class(answer(status)) == expected


def test_an_application_error_without_challenge_is_not_accepted():
    # Used to count as "the application's own answer", i.e. accepted.
    assert not accepted(answer(501, body={"jsonrpc": "2.0", "error": {"code": -32601}}))
    assert not accepted(answer(404))


def test_configured_success_status():
    only_204 = frozenset({204})
    assert not accepted(answer(200), only_204)
    assert accepted(answer(204), only_204)
    assert accepted(answer(299), SUCCESS_2XX)


def test_mismatch_names_a_server_error():
    problem = mismatch(oracle.ok(), answer(501))
    assert problem is not None and "server error (a 5xx never counts as accepted)" in problem
    refused = oracle.Expectation(401, "invalid_token", "MCPA-VER-008", "alg none")
    problem = mismatch(refused, answer(500))
    assert problem is not None and "got HTTP 500" in problem


def challenge_then_501() -> Starlette:
    """Answers a token-less request like a verifier, and everything else with 501."""

    async def endpoint(request: Request) -> Response:
        if "authorization" not in request.headers:
            return JSONResponse(
                {},
                status_code=401,
                headers={"WWW-Authenticate": 'DPoP algs="ES256 EdDSA", resource_metadata="x"'},
            )
        return PlainTextResponse("Not Implemented", status_code=501)

    return Starlette(routes=[Route("/{p:path}", endpoint, methods=["GET", "POST"])])


def test_a_501_never_passes_an_acceptance_check():
    """The regression: a server answering 501 passed every check that expects acceptance."""
    port = free_port()
    with serve(challenge_then_501()) as url:
        opts = runner.RunOptions(
            config=None,
            roles=["verifier"],
            profile=PROFILES["quick"],
            seed=0,
            expected={},
            out=None,  # type: ignore[arg-type]
            verifier_override=VerifierConfig(url + "/mcp", url + "/mcp", "POST", "data:read", port),
            issuer_port=port,
            stream=io.StringIO(),
        )
        report = runner.run(opts)
    assert report.checks[0].id == "verifier.valid_token_accepted"
    assert report.checks[0].outcome == "fail"
    assert "HTTP 501, a server error" in report.checks[0].reason
    assert not [c.id for c in report.checks if c.outcome == "pass"]
    assert report.aborted is not None and report.aborted.stage == "gate"
