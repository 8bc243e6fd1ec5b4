"""``mcp-auth conformance run``: run the suite and write the reports.

Exit codes: 0 no MUST failed (after expected failures); 1 a MUST check failed; 2 the run
could not be performed (usage or configuration error, a target that is not an MCP-Auth
issuer or verifier at all (the preflight), the target not answering the first check of a
role, the bundled reference not starting). A mistake found before the first check (a config
that cannot be read, a taken ``verifier.issuer_port``, an ``--out`` that cannot be written)
is one line on stderr (``CliError``) and no report; a run aborted later (the preflight, the
gate, the reference not starting) still writes its reports.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from mcp_auth.command_errors import CliError
from mcp_auth.command_parser import examples
from mcp_auth.conformance.config import ConfigError
from mcp_auth.conformance.profiles import PROFILES

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def register(subparsers: Any) -> None:
    conf = subparsers.add_parser(
        "conformance",
        help="run the MCP-Auth conformance suite against an issuer or verifier",
        epilog=examples(
            "mcp-auth conformance run", "mcp-auth conformance run --config target.toml"
        ),
    )
    sub = conf.add_subparsers(dest="conformance_command", required=True, metavar="ACTION")
    run = sub.add_parser(
        "run",
        help="run the checks and write report.json, junit.xml, report.html and badges",
        description="Without --config the bundled reference is started on 127.0.0.1 and tested.",
        epilog=examples(
            "mcp-auth conformance run --profile quick",
            "mcp-auth conformance run --config target.toml --role verifier --out report",
        ),
    )
    run.add_argument(
        "--config",
        metavar="FILE",
        help="target config (TOML) (default: start and test the bundled reference)",
    )
    run.add_argument(
        "--role",
        choices=("issuer", "verifier", "all"),
        default="all",
        help="the conformance class to test; all: each one the config has a section for",
    )
    run.add_argument(
        "--profile",
        choices=tuple(PROFILES),
        default="default",
        help="how many generated cases per check",
    )
    run.add_argument(
        "--out", metavar="DIR", default="conformance-report", help="directory for the reports"
    )
    run.add_argument(
        "--expected-failures",
        metavar="FILE",
        help="TOML or JSON list of check ids (with reasons) expected to fail (default: none)",
    )
    run.add_argument("--seed", type=int, default=0, help="Hypothesis seed")
    run.add_argument(
        "--fresh-keys",
        action="store_true",
        help="replace the suite issuer's stored signing keys with new ones (Verifier class; "
        "by default they are kept in the user cache directory and reused)",
    )
    run.set_defaults(handler=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    # Imported here so that `mcp-auth --help` does not pay for Hypothesis and the checks.
    from hypothesis.configuration import set_hypothesis_home_dir  # noqa: PLC0415

    from mcp_auth.conformance import config as config_mod  # noqa: PLC0415
    from mcp_auth.conformance import report as report_mod  # noqa: PLC0415
    from mcp_auth.conformance import runner, suite_keys  # noqa: PLC0415
    from mcp_auth.conformance.report_terminal import summary_text  # noqa: PLC0415

    try:
        cfg = config_mod.load(args.config) if args.config else None
    except ConfigError as exc:
        detail = f"{exc.field}: {exc.message}" if exc.field else exc.message
        raise CliError(f"invalid target config {args.config}: {detail}", EXIT_USAGE) from None
    try:
        expected = (
            runner.resolve_expected(runner.load_expected_failures(args.expected_failures))
            if args.expected_failures
            else {}
        )
    except (OSError, ValueError) as exc:
        raise CliError(f"--expected-failures {args.expected_failures}: {exc}", EXIT_USAGE) from None
    _check_out(Path(args.out))
    roles = ["issuer", "verifier"] if args.role == "all" else [args.role]
    if args.role == "all" and cfg is not None:
        # "all" tests each class the configuration has a section for.
        roles = [r for r in roles if getattr(cfg, r) is not None]
    opts = runner.RunOptions(
        config=cfg,
        roles=roles,
        profile=PROFILES[args.profile],
        seed=args.seed,
        expected=expected,
        out=Path(args.out),
        # Used only for a verifier the suite did not start (see suite_keys).
        keys_file=suite_keys.default_path(),
        fresh_keys=args.fresh_keys,
    )
    # Hypothesis keeps a cache directory; a CLI run must not leave one in the user's cwd.
    with tempfile.TemporaryDirectory(prefix="mcpa-hypothesis-") as hypothesis_home:
        set_hypothesis_home_dir(hypothesis_home)
        try:
            report = runner.run(opts)
        finally:
            set_hypothesis_home_dir(None)  # back to Hypothesis' default
    paths = report_mod.write_all(report, Path(args.out))
    if report.aborted and report.aborted.stage == "preflight":
        # Nothing was tested: one line saying what the target did, and where the report is.
        print(f"error: {report.aborted.reason} (report: {paths['html']})", file=sys.stderr)
        return EXIT_USAGE
    print(summary_text(report))
    print(
        f"  reports: {paths['json']}, {paths['junit']}, {paths['html']}, {paths['svg']}, "
        f"{paths['badge']}"
    )
    if report.aborted:
        return EXIT_USAGE
    return EXIT_OK if report.passed() else EXIT_FAILED


def _check_out(out: Path) -> None:
    """The report directory exists or can be created, before a single check runs."""
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {out} is a file: give a directory for the reports", EXIT_USAGE)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(
            f"--out {out}: cannot create it ({exc.strerror or exc}); give a directory you "
            "can write to",
            EXIT_USAGE,
        ) from None
