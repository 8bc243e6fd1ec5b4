"""The suite issuer's keys stay stable across runs, so a correct verifier that may refresh
its JWK Set only once per 30 s (MCPA-VER-033) passes run after run."""

from __future__ import annotations

import argparse
import io
import json
import time

from mcp_auth.conformance import cli, runner, suite_keys
from mcp_auth.conformance.config import VerifierConfig
from mcp_auth.conformance.profiles import PROFILES
from tests.conformance.conftest import mini_verifier


def test_cache_dir_locations(monkeypatch, tmp_path):
    monkeypatch.setenv("MCP_AUTH_CACHE_DIR", str(tmp_path / "c"))
    assert suite_keys.default_path() == tmp_path / "c" / "conformance" / "suite-issuer-keys.json"
    monkeypatch.delenv("MCP_AUTH_CACHE_DIR")
    monkeypatch.setattr(suite_keys.sys, "platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert suite_keys.cache_dir() == tmp_path / "xdg" / "mcp-auth"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert suite_keys.cache_dir().name == "mcp-auth"
    assert suite_keys.cache_dir().parent.name == ".cache"


def test_load_or_create_reuses_and_fresh_replaces(tmp_path):
    path = tmp_path / "d" / "keys.json"
    first = suite_keys.load_or_create(path)
    assert first.new and path.stat().st_mode & 0o777 == 0o600
    again = suite_keys.load_or_create(path)
    assert not again.new
    assert again.es256.kid == first.es256.kid and again.eddsa.kid == first.eddsa.kid
    assert again.es256.public_jwk() == first.es256.public_jwk()
    suite_keys.record_served(again, 1000.0)
    assert json.loads(path.read_text())["served_at"] == 1000.0
    assert suite_keys.load_or_create(path).served_at == 1000.0
    fresh = suite_keys.load_or_create(path, fresh=True)
    assert fresh.new and fresh.es256.kid != first.es256.kid
    assert fresh.served_at == 1000.0  # remembered, to wait out the refresh interval
    assert suite_keys.load_or_create(path).es256.kid == fresh.es256.kid


def test_a_broken_key_file_is_replaced(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text("{not json")
    keys = suite_keys.load_or_create(path)
    assert keys.new and json.loads(path.read_text())["es256"]["kid"] == keys.es256.kid


def test_refresh_wait():
    keys = suite_keys.SuiteKeys.generate()
    assert keys.refresh_wait(100.0) == 0.0  # nothing known about earlier runs
    keys.served_at = 90.0
    assert keys.refresh_wait(100.0) == 20.0
    assert keys.refresh_wait(200.0) == 0.0
    keys.new = False  # the server may hold these very keys: no reason to wait
    assert keys.refresh_wait(100.0) == 0.0


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


def test_two_runs_with_different_out_against_one_verifier_both_pass(tmp_path, capsys):
    """The regression: a fresh --out used to mean fresh keys, and the second run's valid
    token met a verifier that had refreshed its JWK Set seconds before (exit 2)."""
    with mini_verifier() as (mini, port):
        (tmp_path / "target.toml").write_text(
            'spec_version = "draft-01"\n[verifier]\n'
            f'resource = "{mini.resource}"\nurl = "{mini.resource}"\nmethod = "POST"\n'
            f'required_scope = "data:read"\nissuer_port = {port}\n'
        )
        base = ["conformance", "run", "--config", str(tmp_path / "target.toml")]
        start = time.monotonic()
        first = _cli([*base, "--profile", "quick", "--out", str(tmp_path / "one")])
        second = _cli([*base, "--profile", "quick", "--out", str(tmp_path / "two")])
        assert time.monotonic() - start < 30  # really within MCPA-VER-033's 30 s
    out = capsys.readouterr().out
    assert (first, second) == (cli.EXIT_OK, cli.EXIT_OK), out[-3000:]
    kids = [
        json.loads((tmp_path / d / "report.json").read_text())["classes"]["Verifier"]
        for d in ("one", "two")
    ]
    assert kids == ["passed", "passed"]


def test_new_keys_refused_by_a_verifier_that_just_refreshed_are_explained():
    """With throwaway keys right after another run, a correct verifier may not refresh yet:
    the message says so (MCPA-VER-033) instead of blaming the configuration."""
    with mini_verifier() as (mini, port):

        def run(keys_file):
            opts = runner.RunOptions(
                config=None,
                roles=["verifier"],
                profile=PROFILES["quick"],
                seed=0,
                expected={},
                out=None,  # type: ignore[arg-type]
                verifier_override=VerifierConfig(
                    mini.resource, mini.resource, "POST", "data:read", port
                ),
                issuer_port=port,
                only={"verifier.valid_token_accepted", "verifier.kid_unknown_or_injected"},
                stream=io.StringIO(),
                keys_file=keys_file,
            )
            return runner.run(opts)

        assert run(suite_keys.default_path()).passed()  # the verifier refreshed just now
        report = run(None)  # new keys, as every run used to have
    assert report.aborted is not None and report.aborted.stage == "gate"
    reason = report.aborted.reason
    assert "did not accept a valid token signed by a key it has not fetched yet" in reason
    assert "less than 30 s ago, which MCPA-VER-033 allows" in reason
    assert "without --fresh-keys" in reason
    assert "not usable as configured" not in reason


def test_fresh_keys_wait_out_the_refresh_interval(tmp_path, capsys, monkeypatch):
    """--fresh-keys right after a run: the suite waits until the verifier may refresh (the
    wait is simulated by ageing the miniature's last refresh instead of sleeping)."""
    waits: list[float] = []
    with mini_verifier() as (mini, port):

        def fake_sleep(seconds: float) -> None:
            waits.append(seconds)
            mini._jwks_at -= seconds  # as if that much time had passed

        (tmp_path / "target.toml").write_text(
            'spec_version = "draft-01"\n[verifier]\n'
            f'resource = "{mini.resource}"\nurl = "{mini.resource}"\nmethod = "POST"\n'
            f'required_scope = "data:read"\nissuer_port = {port}\n'
        )
        base = ["conformance", "run", "--config", str(tmp_path / "target.toml")]
        base += ["--profile", "quick", "--role", "verifier"]
        assert _cli([*base, "--out", str(tmp_path / "one")]) == cli.EXIT_OK
        monkeypatch.setattr(runner, "wait_out_refresh", fake_sleep)
        code = _cli([*base, "--out", str(tmp_path / "two"), "--fresh-keys"])
    out = capsys.readouterr().out
    assert code == cli.EXIT_OK, out[-3000:]
    assert len(waits) == 1 and 0 < waits[0] <= 30
    assert "new suite keys: waiting" in out


def test_an_unwritable_cache_dir_means_new_keys_not_an_abort(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with mini_verifier() as (mini, port):
        stream = io.StringIO()
        opts = runner.RunOptions(
            config=None,
            roles=["verifier"],
            profile=PROFILES["quick"],
            seed=0,
            expected={},
            out=None,  # type: ignore[arg-type]
            verifier_override=VerifierConfig(
                mini.resource, mini.resource, "POST", "data:read", port
            ),
            issuer_port=port,
            only={"verifier.valid_token_accepted"},
            stream=stream,
            keys_file=blocker / "conformance" / "keys.json",
        )
        report = runner.run(opts)
    assert report.passed() and report.aborted is None
    assert "cannot keep the suite's keys" in stream.getvalue()
