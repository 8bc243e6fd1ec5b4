"""The preflight: a target that is not an MCP-Auth verifier or issuer at all stops the run
before any check, with exit code 2, one line, and an aborted report."""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from mcp_auth import schemas
from mcp_auth.conformance import cli, preflight
from tests.conformance.broken.server import serve
from tests.loopback import free_port


@contextmanager
def static_server(root: Path) -> Iterator[str]:
    """Python's own static file server on a free loopback port (answers POST with 501)."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def everything_ok() -> Starlette:
    """A tiny app answering 200 to every request."""

    async def ok(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/{p:path}", ok, methods=["GET", "POST", "HEAD"])])


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


def verifier_config(tmp_path: Path, url: str) -> Path:
    cfg = tmp_path / "target.toml"
    cfg.write_text(
        f'spec_version = "draft-01"\n[verifier]\nresource = "{url}"\nurl = "{url}"\n'
        f'method = "POST"\nrequired_scope = "data:read"\nissuer_port = {free_port()}\n'
    )
    return cfg


def assert_aborted(tmp_path: Path, capsys: pytest.CaptureFixture[str], code: int) -> str:
    assert code == cli.EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    schemas.validate("conformance-report", data)
    assert data["aborted"]["stage"] == "preflight"
    assert data["checks"] == []
    assert data["aborted"]["reason"] in lines[0]
    page = (tmp_path / "out" / "report.html").read_text()
    assert "Run aborted" in page
    return lines[0]


def test_static_file_server_is_not_a_verifier(tmp_path, capsys):
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.html").write_text("<p>hello</p>")
    with static_server(tmp_path / "www") as base:
        cfg = verifier_config(tmp_path, base + "/x")
        code = run_cli(["conformance", "run", "--config", str(cfg), "--out", str(tmp_path / "out")])
    line = assert_aborted(tmp_path, capsys, code)
    assert f"target {base}/x is not an MCP-Auth verifier" in line
    assert "got HTTP 501, expected 401 with a DPoP challenge (MCPA-VER-002)" in line


def test_app_answering_200_to_everything_is_not_a_verifier(tmp_path, capsys):
    with serve(everything_ok()) as base:
        cfg = verifier_config(tmp_path, base + "/mcp")
        code = run_cli(["conformance", "run", "--config", str(cfg), "--out", str(tmp_path / "out")])
    line = assert_aborted(tmp_path, capsys, code)
    assert "request without a token got HTTP 200" in line


def test_static_file_server_is_not_an_issuer(tmp_path, capsys):
    (tmp_path / "www").mkdir()
    with static_server(tmp_path / "www") as base:
        cfg = tmp_path / "target.toml"
        cfg.write_text(
            f'spec_version = "draft-01"\n[issuer]\nurl = "{base}"\n'
            '[issuer.agent]\nclient_id = "a"\nmodel = "m"\n'
            'private_jwk = { kty = "OKP", crv = "Ed25519", '
            'x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", '
            'd = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A" }\n'
            '[issuer.grants]\nmode = "existing"\ngrant_ids = ["g"]\n'
        )
        code = run_cli(["conformance", "run", "--config", str(cfg), "--out", str(tmp_path / "out")])
    line = assert_aborted(tmp_path, capsys, code)
    assert f"target {base} is not an MCP-Auth issuer" in line
    assert "got HTTP 404, expected 200 with RFC 8414 metadata (MCPA-DSC-001)" in line


def issuer_app(issuer: str | None, jwks: object) -> Starlette:
    """Metadata naming ``issuer`` (None: its own origin) and a JWKS endpoint serving ``jwks``."""

    async def md(request: Request) -> Response:
        me = str(request.base_url).rstrip("/")
        return JSONResponse({"issuer": issuer or me, "jwks_uri": me + "/jwks"})

    async def keys(request: Request) -> Response:
        return JSONResponse(jwks)

    return Starlette(
        routes=[Route("/.well-known/oauth-authorization-server", md), Route("/jwks", keys)]
    )


@pytest.mark.parametrize(
    ("issuer", "jwks", "message"),
    [
        ("https://elsewhere.example", {"keys": []}, "names issuer 'https://elsewhere.example'"),
        (None, {"no": "keys"}, "/jwks is not a JWK Set (no keys array) (MCPA-DSC-003)"),
        (None, [1, 2], "/jwks is not a JWK Set"),
        (None, {"keys": []}, None),
    ],
)
def test_issuer_probe(issuer, jwks, message):
    with serve(issuer_app(issuer, jwks)) as url, httpx.Client() as client:
        if message is None:
            preflight.issuer(client, url)  # metadata, its issuer and a JWK Set: passes
            return
        with pytest.raises(preflight.NotATarget) as err:
            preflight.issuer(client, url)
    assert f"target {url} is not an MCP-Auth issuer" in str(err.value)
    assert message in str(err.value) and err.value.role == "issuer"


@pytest.mark.parametrize(
    ("value", "schemes"),
    [
        ('DPoP algs="ES256 EdDSA", resource_metadata="https://x/.well-known/a"', ["dpop"]),
        ('Bearer realm="a, DPoP b", dpop error="x"', ["bearer", "dpop"]),
        ("Basic", ["basic"]),
        ('Bearer realm="x"', ["bearer"]),
        ('Newauth realm=apps, type=1, title="Login", Basic realm=simple', ["newauth", "basic"]),
        ("", []),
    ],
)
def test_challenge_schemes(value, schemes):
    assert preflight.challenge_schemes(value) == schemes


def wrong_challenge() -> Starlette:
    async def bearer(request: Request) -> Response:
        return JSONResponse({}, status_code=401, headers={"WWW-Authenticate": 'Bearer realm="x"'})

    return Starlette(routes=[Route("/{p:path}", bearer, methods=["GET", "POST"])])


def test_verifier_probe_wants_a_dpop_challenge():
    with (
        serve(wrong_challenge()) as url,
        httpx.Client() as client,
        pytest.raises(preflight.NotATarget, match="WWW-Authenticate schemes bearer"),
    ):
        preflight.verifier(client, url + "/mcp", "POST")


def test_verifier_probe_names_a_dead_target():
    url = f"http://127.0.0.1:{free_port()}/mcp"
    with httpx.Client() as client, pytest.raises(preflight.NotATarget, match="did not answer"):
        preflight.verifier(client, url, "GET")
