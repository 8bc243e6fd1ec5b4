"""Running checks: outcomes, severities, expected failures, exit codes."""

from __future__ import annotations

import json

import pytest

from mcp_auth.conformance import cli, runner, suite_keys
from mcp_auth.conformance.framework import Check, Failed, Skipped


def make(fn, severity="MUST"):
    return Check("verifier.sample", "sample", "verifier", ("MCPA-VER-001",), severity, fn)


def fail(_):
    raise Failed("broken", None)


def skip(_):
    raise Skipped("cannot run")


def test_outcomes():
    assert runner.execute(make(lambda _: None), object(), "", {}).outcome == "pass"
    assert runner.execute(make(fail), object(), "", {}).outcome == "fail"
    assert runner.execute(make(fail, "SHOULD"), object(), "", {}).outcome == "warn"
    r = runner.execute(make(skip), object(), "", {})
    assert (r.outcome, r.reason) == ("skip", "cannot run")
    r = runner.execute(make(lambda _: None), None, "no verifier section", {})
    assert (r.outcome, r.reason) == ("skip", "no verifier section")


def test_suite_errors_are_never_passes():
    def boom(_):
        raise KeyError("x")

    r = runner.execute(make(boom), object(), "", {})
    assert r.outcome == "fail" and "suite error" in r.reason


def test_expected_failures():
    expected = {"verifier.sample": "known gap"}
    r = runner.execute(make(fail), object(), "", expected)
    assert r.outcome == "xfail" and "known gap" in r.reason
    r = runner.execute(make(lambda _: None), object(), "", expected)
    assert r.outcome == "pass" and "but passed" in r.reason


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("x.toml", '[[expected_failure]]\nid = "verifier.sample"\nreason = "known gap"\n'),
        ("x.toml", '[expected_failures]\n"verifier.sample" = "known gap"\n'),
        ("x.json", json.dumps([{"id": "verifier.sample", "reason": "known gap"}])),
        ("x.json", json.dumps({"verifier.sample": "known gap"})),
    ],
)
def test_expected_failures_files(tmp_path, name, text):
    (tmp_path / name).write_text(text)
    assert runner.load_expected_failures(tmp_path / name) == {"verifier.sample": "known gap"}


def test_cli_bad_config_exit_2(tmp_path, capsys):
    import argparse

    from mcp_auth.command_errors import run_handler

    (tmp_path / "t.toml").write_text('spec_version = "draft-01"\n[verifier]\nurl = 5\n')
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    args = parser.parse_args(
        ["conformance", "run", "--config", str(tmp_path / "t.toml"), "--out", str(tmp_path / "out")]
    )
    assert run_handler(args.handler, args) == cli.EXIT_USAGE  # as `mcp-auth` runs it
    assert "verifier.resource" in capsys.readouterr().err


def test_verifier_only_config_skips_issuer(tmp_path):
    """A config without [issuer] gives skips for the Issuer class, not failures."""
    import io

    from mcp_auth.conformance.config import TargetConfig
    from mcp_auth.conformance.profiles import PROFILES

    opts = runner.RunOptions(
        config=TargetConfig("draft-01"),
        roles=["issuer"],
        profile=PROFILES["quick"],
        seed=0,
        expected={},
        out=tmp_path,
        stream=io.StringIO(),
    )
    report = runner.run(opts)
    assert report.checks and all(c.outcome == "skip" for c in report.checks)
    assert report.classes()["Issuer"] == "not_tested"
    assert report.passed()


def test_requirement_ids_in_expected_failures_expand_and_unknown_keys_fail():
    resolved = runner.resolve_expected({"MCPA-VER-024": "replay cache per instance"})
    assert "verifier.dpop_replay" in resolved
    with pytest.raises(ValueError, match="matches no check"):
        runner.resolve_expected({"verifier.no_such_check": "x"})


def test_gate_failure_skips_the_role_and_aborts():
    """A verifier that refuses even a valid token: one failure, the rest skipped, exit 2."""
    import io

    from mcp_auth.conformance.config import VerifierConfig
    from mcp_auth.conformance.profiles import PROFILES
    from tests.conformance.conftest import mini_verifier

    with mini_verifier() as (mini, port):
        mini.resource = mini.resource + "/elsewhere"  # every aud now mismatches
        opts = runner.RunOptions(
            config=None,
            roles=["verifier"],
            profile=PROFILES["quick"],
            seed=0,
            expected={},
            out=None,  # type: ignore[arg-type]
            verifier_override=VerifierConfig(
                mini.resource.removesuffix("/elsewhere"),
                mini.resource.removesuffix("/elsewhere"),
                "POST",
                "data:read",
                port,
            ),
            issuer_port=port,
            stream=io.StringIO(),
        )
        report = runner.run(opts)
    first, *rest = report.checks
    assert first.id == "verifier.valid_token_accepted" and first.outcome == "fail"
    assert rest and all(c.outcome == "skip" for c in rest)
    assert report.aborted


def _run_cli(argv):
    import argparse

    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.handler(args)


def test_cli_against_external_verifier_with_expected_failures(tmp_path, capsys):
    """The vendor flow: a [verifier] config pointing at a running server (here a broken
    miniature) and the suite's issuer on the configured port; exit codes 1, then 0 with the
    defect listed as an expected failure."""
    from tests.conformance.conftest import mini_verifier

    with mini_verifier("ignores_aud") as (mini, port):
        (tmp_path / "target.toml").write_text(
            'spec_version = "draft-01"\n[verifier]\n'
            f'resource = "{mini.resource}"\nurl = "{mini.resource}"\nmethod = "POST"\n'
            f'required_scope = "data:read"\nissuer_port = {port}\n'
        )
        (tmp_path / "xfail.toml").write_text('"MCPA-VER-015" = "known: aud check missing"\n')
        base = [
            "conformance",
            "run",
            "--config",
            str(tmp_path / "target.toml"),
            "--profile",
            "quick",
        ]
        assert _run_cli([*base, "--out", str(tmp_path / "a")]) == cli.EXIT_FAILED
        # Straight away again, another --out: the suite reuses its stored keys, so the
        # server's cached JWK Set still holds (it may refresh only once per 30 s).
        code = _run_cli(
            [
                *base,
                "--out",
                str(tmp_path / "b"),
                "--expected-failures",
                str(tmp_path / "xfail.toml"),
            ]
        )
    out = capsys.readouterr().out
    assert f"issuer          http://127.0.0.1:{port}" in out  # how to point the server at it
    data = json.loads((tmp_path / "b" / "report.json").read_text())
    outcomes = {c["id"]: c["outcome"] for c in data["checks"]}
    assert outcomes["verifier.wrong_aud"] == "xfail"
    keys_file = suite_keys.default_path()
    assert keys_file.stat().st_mode & 0o777 == 0o600
    assert keys_file.parent.stat().st_mode & 0o777 == 0o700
    assert not (tmp_path / "b" / ".suite-issuer-keys.json").exists()  # nothing secret in --out
    assert data["roles"] == ["verifier"]
    assert data["classes"]["Verifier"] == "failed"  # an expected failure still fails the class
    if outcomes.get("verifier.generated_mutations") == "pass":
        assert code == cli.EXIT_OK
