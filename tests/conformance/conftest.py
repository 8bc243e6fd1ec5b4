"""Fixtures: the miniature issuer and verifier served on loopback, and suite runners."""

from __future__ import annotations

import atexit
import io
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from mcp_auth.conformance import jose, runner, suite_keys
from mcp_auth.conformance.config import VerifierConfig, from_dict
from mcp_auth.conformance.profiles import PROFILES
from mcp_auth.conformance.results import Report
from tests.conformance.broken.mini_issuer import MiniIssuer
from tests.conformance.broken.mini_verifier import MiniVerifier
from tests.conformance.broken.server import serve
from tests.loopback import free_port

TOOL_RESOURCES = ("http://127.0.0.1:9/tool-1", "http://127.0.0.1:9/tool-2")
FINAL_RESOURCE = "http://127.0.0.1:9/final"

# Where runs that write no report put their output: never the working tree.
_SCRATCH = Path(tempfile.mkdtemp(prefix="mcpa-conformance-tests-"))
atexit.register(shutil.rmtree, _SCRATCH, ignore_errors=True)


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The suite's user cache directory (its stored keys): a temporary one per test, never
    the real ~/.cache."""
    path = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("MCP_AUTH_CACHE_DIR", str(path))
    return path


@contextmanager
def mini_verifier(defect: str | None = None) -> Iterator[tuple[MiniVerifier, int]]:
    """A running miniature verifier; yields it and the port the suite's issuer must use."""
    mini = MiniVerifier(defect)
    port = free_port()
    mini.issuer = f"http://127.0.0.1:{port}"
    with serve(mini.app()) as url:
        mini.resource = url + "/mcp"
        try:
            yield mini, port
        finally:
            mini.http.close()


def run_verifier(
    mini: MiniVerifier,
    port: int,
    *,
    only: set[str] | None = None,
    profile: str = "quick",
    seed: int = 0,
    out: Path | None = None,
) -> Report:
    opts = runner.RunOptions(
        config=None,
        roles=["verifier"],
        profile=PROFILES[profile],
        seed=seed,
        expected={},
        out=out or _SCRATCH,
        verifier_override=VerifierConfig(mini.resource, mini.resource, "POST", "data:read", port),
        issuer_port=port,
        only=only,
        stream=io.StringIO(),
        keys_file=suite_keys.default_path(),
    )
    return runner.run(opts)


def issuer_config(url: str, keys: dict[str, jose.Key], mode: str = "admin") -> dict[str, Any]:
    grants: dict[str, Any] = {
        "mode": "admin",
        "admin_token": "admin-secret",
        "user": "alice",
        "resources": [FINAL_RESOURCE],
        "scopes": ["data:read", "data:write"],
        "models": ["model-1"],
        "quota_probe": 40,
    }
    return {
        "spec_version": "draft-01",
        "issuer": {
            "url": url,
            "agent": {
                "client_id": "agent-1",
                "private_jwk": keys["agent-1"].private_jwk(),
                "model": "model-1",
            },
            "tools": [
                {
                    "client_id": f"tool-{i + 1}",
                    "private_jwk": keys[f"tool-{i + 1}"].private_jwk(),
                    "resource": r,
                }
                for i, r in enumerate(TOOL_RESOURCES)
            ],
            "grants": grants,
        },
    }


@contextmanager
def mini_issuer(defect: str | None = None) -> Iterator[tuple[MiniIssuer, dict[str, Any]]]:
    keys = {n: jose.Key.generate() for n in ("agent-1", "tool-1", "tool-2")}
    clients: dict[str, dict[str, Any]] = {
        "agent-1": {"jwk": keys["agent-1"].public_jwk(), "type": "agent"},
        "tool-1": {
            "jwk": keys["tool-1"].public_jwk(),
            "type": "tool",
            "resource": TOOL_RESOURCES[0],
        },
        "tool-2": {
            "jwk": keys["tool-2"].public_jwk(),
            "type": "tool",
            "resource": TOOL_RESOURCES[1],
        },
    }
    mini = MiniIssuer(clients, defect)
    with serve(mini.app()) as url:
        mini.url = url
        yield mini, issuer_config(url, keys)


def run_issuer(
    cfg: dict[str, Any], only: set[str] | None = None, profile: str = "quick", seed: int = 0
) -> Report:
    opts = runner.RunOptions(
        config=from_dict(cfg),
        roles=["issuer"],
        profile=PROFILES[profile],
        seed=seed,
        expected={},
        out=_SCRATCH,
        only=only,
        stream=io.StringIO(),
    )
    return runner.run(opts)
