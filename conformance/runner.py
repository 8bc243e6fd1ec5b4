"""Run the checks: start what is needed, execute each check, classify, report progress.

With no target config the suite starts the bundled reference as subprocesses (never by
import, see :mod:`reference_procs`): ``mcp-auth demo seed`` + ``mcp-auth serve`` for the
Issuer class and ``mcp-auth resource-server`` (trusting the suite's own issuer) for the
Verifier class, on free loopback ports, and always stops them. Before any check, every
role's target is preflighted (:mod:`preflight`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO, TypeVar

import httpx

import mcp_auth
from mcp_auth import SPEC_VERSION
from mcp_auth.command_errors import CliError
from mcp_auth.conformance import config as config_mod
from mcp_auth.conformance import issuer as issuer_checks
from mcp_auth.conformance import (
    issuer_status,  # noqa: F401 - registers its checks
    preflight,
    stateful,  # noqa: F401 - registers the stateful check
    suite_keys,
)
from mcp_auth.conformance import verifier as verifier_checks
from mcp_auth.conformance.cases import Target
from mcp_auth.conformance.config import ConfigError, TargetConfig, VerifierConfig
from mcp_auth.conformance.framework import SUCCESS_2XX, Check, Failed, Skipped
from mcp_auth.conformance.profiles import PROFILES, Profile
from mcp_auth.conformance.reference_procs import (
    Processes,
    seed_reference,
    start_reference_issuer,
    start_reference_verifier,
)
from mcp_auth.conformance.results import Aborted, CheckResult, Report
from mcp_auth.conformance.suite_issuer import SuiteIssuer, bind, free_port
from mcp_auth.conformance.suite_keys import SuiteKeys

C = TypeVar("C")


# The first check of each role is a gate: if the target does not even answer it correctly
# (metadata unreachable; a valid token refused) nothing else would mean anything, so the
# role's other checks are skipped and the run ends with exit code 2 (a configuration error).
GATES = {"issuer": "issuer.metadata", "verifier": "verifier.valid_token_accepted"}


def all_checks() -> list[Check[Any]]:
    out: list[Check[Any]] = []
    for reg in (issuer_checks.registry, verifier_checks.registry):
        checks: list[Check[Any]] = list(reg.checks)
        checks.sort(key=lambda c: c.id != GATES[c.role])  # stable: the gate first
        out += checks
    return out


# -- expected failures ------------------------------------------------------------------------


def load_expected_failures(path: str | Path) -> dict[str, str]:
    """TOML or JSON: a list of ids, a list of {id, reason}, or a table id -> reason (TOML:
    top-level ``[[expected_failure]]`` entries or an ``[expected_failures]`` table)."""
    p = Path(path)
    text = p.read_text("utf-8")
    data: Any
    if p.suffix == ".json":
        data = json.loads(text)
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            data = json.loads(text)
    if isinstance(data, dict):
        for key in ("expected_failures", "expected_failure", "expected"):
            if key in data:
                data = data[key]
                break
    out: dict[str, str] = {}
    if isinstance(data, dict):
        for k, v in data.items():
            out[str(k)] = str(v.get("reason", "") if isinstance(v, dict) else v)
    elif isinstance(data, list):
        for item in data:
            if isinstance(item, str):
                out[item] = "listed as an expected failure"
            elif isinstance(item, dict) and "id" in item:
                out[str(item["id"])] = str(item.get("reason", "listed as an expected failure"))
            else:
                raise ValueError(f"{p}: entries must be check ids or {{id, reason}} tables")
    else:
        raise ValueError(f"{p}: expected a list or a table of expected failures")
    return out


def resolve_expected(raw: dict[str, str]) -> dict[str, str]:
    """Keys are check ids or requirement IDs (matching every check that tests it); a key
    that matches no check is an error."""
    checks = all_checks()
    out: dict[str, str] = {}
    for key, reason in raw.items():
        matched = [c.id for c in checks if c.id == key or key in c.requirements]
        if not matched:
            raise ValueError(f"expected failure {key!r} matches no check")
        for check_id in matched:
            out.setdefault(check_id, reason)
    return out


# -- executing checks --------------------------------------------------------------------------


def execute(
    check: Check[C], ctx: C | None, skip_reason: str, expected: dict[str, str]
) -> CheckResult:
    result = CheckResult(
        check.id, check.title, check.role, list(check.requirements), check.severity
    )
    start = time.monotonic()
    try:
        if ctx is None:
            raise Skipped(skip_reason)
        check.run(ctx)
        result.outcome = "pass"
    except Skipped as exc:
        result.outcome, result.reason = "skip", exc.reason
    except Failed as exc:
        result.outcome = "fail" if check.severity == "MUST" else "warn"
        result.reason = exc.reason
        result.counterexample = exc.counterexample
    except httpx.HTTPError as exc:
        result.outcome = "fail" if check.severity == "MUST" else "warn"
        result.reason = f"HTTP error talking to the target: {type(exc).__name__}: {exc}"
    except Exception as exc:  # a suite defect must be visible, never silently passed
        result.outcome = "fail" if check.severity == "MUST" else "warn"
        result.reason = f"suite error while running the check: {type(exc).__name__}: {exc}"
    result.duration_ms = int((time.monotonic() - start) * 1000)
    if check.id in expected:
        why = expected[check.id]
        if result.outcome in ("fail", "warn"):
            result.outcome = "xfail"
            result.reason = f"expected failure ({why}): {result.reason}"
        elif result.outcome == "pass":
            result.reason = (
                f"listed as an expected failure ({why}) but passed: remove it "
                "from the expected-failures file"
            )
    return result


class Progress:
    """One line per check; works without a TTY."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.done = 0
        self.stream = stream or sys.stdout

    def line(self, result: CheckResult) -> None:
        self.done += 1
        width = len(str(self.total))
        extra = ""
        if result.outcome in ("fail", "warn", "xfail", "skip") or result.reason:
            extra = f" — {result.reason.splitlines()[0][:160]}" if result.reason else ""
        print(
            f"[{self.done:>{width}}/{self.total}] {result.outcome.upper():5} {result.id} "
            f"({result.duration_ms} ms){extra}",
            file=self.stream,
            flush=True,
        )

    def say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


# -- the run -------------------------------------------------------------------------------------


@dataclass
class RunOptions:
    config: TargetConfig | None
    roles: list[str]
    profile: Profile
    seed: int
    expected: dict[str, str]
    out: Path
    stream: TextIO | None = None  # default: sys.stdout at run time
    verifier_override: VerifierConfig | None = None  # tests: a verifier already running
    issuer_port: int | None = None
    only: set[str] | None = None  # run just these check ids (tests, debugging)
    # The suite issuer's key file when testing a verifier the suite did not start (None:
    # throwaway keys); see suite_keys. ``fresh_keys`` replaces the stored keys.
    keys_file: Path | None = None
    fresh_keys: bool = False


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@contextlib.contextmanager
def _maybe_reference(
    opts: RunOptions, progress: Progress
) -> Iterator[tuple[TargetConfig, Processes, Path | None]]:
    procs = Processes()
    if opts.config is not None:
        yield opts.config, procs, None
        return
    with tempfile.TemporaryDirectory(prefix="mcpa-conformance-") as tmpdir:
        tmp = Path(tmpdir)
        try:
            cfg = TargetConfig(spec_version=SPEC_VERSION)
            if "issuer" in opts.roles:
                port = free_port()
                progress.say(f"starting the bundled reference issuer on 127.0.0.1:{port} ...")
                target = seed_reference(tmp, port)
                start_reference_issuer(procs, tmp, port)
                cfg = config_mod.load(target)
                cfg.verifier = None
            yield cfg, procs, tmp
        finally:
            procs.stop()


def _suite_issuer_port(opts: RunOptions, vcfg: VerifierConfig | None, reference: bool) -> int:
    """Where the suite's own issuer listens for the Verifier class (0: a free port)."""
    if opts.issuer_port is not None:
        return opts.issuer_port
    return vcfg.issuer_port if vcfg is not None and not reference else 0


def _port_in_use(port: int, opts: RunOptions) -> CliError:
    source = opts.config.source if opts.config is not None and opts.config.source else ""
    key = f"verifier.issuer_port in {source}" if source else "verifier.issuer_port"
    return CliError(
        f"port {port} ({key}), where the suite's issuer listens, is already in use: stop the "
        "program listening there, or set another verifier.issuer_port and point the server "
        "under test at http://127.0.0.1:<that port>",
        2,
    )


def check_issuer_port(opts: RunOptions) -> None:
    """Before any check runs: the configured port of the suite's issuer is free (CliError)."""
    if "verifier" not in opts.roles:
        return
    vcfg = opts.verifier_override or (opts.config.verifier if opts.config else None)
    reference = opts.config is None and opts.verifier_override is None
    port = _suite_issuer_port(opts, vcfg, reference)
    if vcfg is None or not port:
        return
    try:
        bind(port).close()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise _port_in_use(port, opts) from None
        raise CliError(
            f"cannot listen on 127.0.0.1:{port} (verifier.issuer_port): {exc}", 2
        ) from None


@dataclass
class VerifierSetup:
    """The suite's issuer, running, and the verifier under test it issues for."""

    suite: SuiteIssuer
    keys: SuiteKeys
    vcfg: VerifierConfig


def run(opts: RunOptions) -> Report:
    """Start what is needed, preflight every role, then run the checks role by role."""
    roles = opts.roles
    check_issuer_port(opts)
    report = Report(
        SPEC_VERSION,
        mcp_auth.__version__,
        opts.profile.name,
        list(roles),
        {},
        opts.seed,
        started_at=now_iso(),
    )
    checks = [
        c for c in all_checks() if c.role in roles and (opts.only is None or c.id in opts.only)
    ]
    progress = Progress(len(checks), opts.stream)
    expected = dict(opts.expected)
    known = {c.id for c in all_checks()}
    for unknown in sorted(set(expected) - known):
        progress.say(f"note: expected-failures lists unknown check {unknown!r}")
    client = httpx.Client(timeout=httpx.Timeout(15.0), follow_redirects=False)
    try:
        with (
            _maybe_reference(opts, progress) as (cfg, procs, tmp),
            contextlib.ExitStack() as stack,
        ):
            if "issuer" in roles and cfg.issuer is not None:
                report.target["issuer"] = cfg.issuer.url
            vsetup = None
            if "verifier" in roles:
                vsetup = _setup_verifier(
                    opts, cfg=cfg, procs=procs, tmp=tmp, stack=stack, progress=progress
                )
                if vsetup is not None:
                    report.target["verifier"] = vsetup.vcfg.url
            try:
                _preflight(client, roles, cfg, vsetup)
            except preflight.NotATarget as exc:
                report.aborted = Aborted("preflight", str(exc), exc.role)
                return report
            if "issuer" in roles:
                ichecks = [c for c in checks if c.role == "issuer"]
                if cfg.issuer is None:
                    for c in ichecks:
                        why = "no [issuer] section in the target config"
                        _record(report, progress, execute(c, None, why, expected))
                else:
                    ictx = issuer_checks.IssuerRun(cfg.issuer, client, opts.profile, opts.seed)
                    _run_role(ichecks, ictx, report, progress, expected)
            if "verifier" in roles:
                vchecks = [c for c in checks if c.role == "verifier"]
                if vsetup is None:
                    for c in vchecks:
                        why = "no [verifier] section in the target config"
                        _record(report, progress, execute(c, None, why, expected))
                else:
                    _run_verifier(
                        opts,
                        setup=vsetup,
                        vchecks=vchecks,
                        client=client,
                        report=report,
                        progress=progress,
                        expected=expected,
                    )
    except (RuntimeError, ConfigError, OSError) as exc:
        progress.say(f"error: {exc}")
        report.aborted = Aborted("setup", str(exc))
        done = {r.id for r in report.checks}
        for c in checks:
            if c.id not in done:
                _record(report, progress, execute(c, None, f"could not run: {exc}", expected))
    finally:
        client.close()
        report.finished_at = now_iso()
        if not report.target:
            report.target["issuer" if "issuer" in roles else "verifier"] = "http://127.0.0.1/"
    return report


def _preflight(
    client: httpx.Client, roles: list[str], cfg: TargetConfig, vsetup: VerifierSetup | None
) -> None:
    """Raise preflight.NotATarget for the first role whose target is not one at all."""
    if "issuer" in roles and cfg.issuer is not None:
        preflight.issuer(client, cfg.issuer.url)
    if vsetup is not None:
        preflight.verifier(client, vsetup.vcfg.url, vsetup.vcfg.method)


def _record(report: Report, progress: Progress, result: CheckResult) -> None:
    report.checks.append(result)
    progress.line(result)


def _run_role(
    checks: list[Check[Any]],
    ctx: Any,
    report: Report,
    progress: Progress,
    expected: dict[str, str],
    *,
    skips: dict[str, str] | None = None,
    gate_message: Callable[[CheckResult], str] | None = None,
) -> None:
    """Run one role's checks; if its gate check fails, skip the rest (exit code 2)."""
    stop = ""
    for c in checks:
        if stop:
            _record(report, progress, execute(c, None, stop, expected))
            continue
        skip = (skips or {}).get(c.id, "")
        result = execute(c, None if skip else ctx, skip, expected)
        _record(report, progress, result)
        if c.id == GATES[c.role] and result.outcome in ("fail", "xfail"):
            why = (
                gate_message(result)
                if gate_message is not None
                else (
                    "the target is not usable as configured "
                    f"({result.reason.splitlines()[0][:200]})"
                )
            )
            stop = f"not run: {c.id} failed: {why}"
            if report.aborted is None:  # the first class to stop names the reason
                report.aborted = Aborted("gate", f"{c.id} failed: {why}", c.role)
            progress.say(f"error: {c.id} failed: {why}")


def _setup_verifier(
    opts: RunOptions,
    *,
    cfg: TargetConfig,
    procs: Processes,
    tmp: Path | None,
    stack: contextlib.ExitStack,
    progress: Progress,
) -> VerifierSetup | None:
    """Start the suite's issuer (and, for the bundled reference, the resource server)."""
    vcfg = opts.verifier_override or cfg.verifier
    reference = opts.config is None and opts.verifier_override is None
    if vcfg is None and not reference:
        return None
    port = _suite_issuer_port(opts, vcfg, reference)
    # A server the suite did not start may hold the suite's keys from an earlier run: keep
    # them (suite_keys). The bundled reference starts fresh, so throwaway keys do.
    keys = SuiteKeys.generate()
    if opts.keys_file is not None and not reference:
        try:
            keys = suite_keys.load_or_create(opts.keys_file, fresh=opts.fresh_keys)
        except OSError as exc:  # e.g. a read-only home directory: run, but say so
            progress.say(
                f"note: cannot keep the suite's keys in {opts.keys_file} ({exc.strerror or exc});"
                " this run uses new keys (set MCP_AUTH_CACHE_DIR to a writable directory)"
            )
    suite = SuiteIssuer(issuer_port=port, es256=keys.es256, eddsa=keys.eddsa)
    suite.attacker = keys.attacker
    try:
        stack.enter_context(suite)
    except OSError as exc:
        if port and exc.errno == errno.EADDRINUSE:  # taken since check_issuer_port
            raise _port_in_use(port, opts) from None
        raise
    stack.callback(_note_served, suite, keys)
    if reference:
        assert tmp is not None
        rs_port = free_port()
        progress.say(f"starting the bundled reference resource server on 127.0.0.1:{rs_port} ...")
        vcfg = start_reference_verifier(procs, tmp, suite.url, rs_port)
    assert vcfg is not None
    return VerifierSetup(suite, keys, vcfg)


def _note_served(suite: SuiteIssuer, keys: SuiteKeys) -> None:
    served = suite.jwks_served()
    if served:
        suite_keys.record_served(keys, max(served))


def wait_out_refresh(seconds: float) -> None:
    """Sleep before new suite keys are first used (its own function, so tests can fake it)."""
    time.sleep(seconds)


def _run_verifier(
    opts: RunOptions,
    *,
    setup: VerifierSetup,
    vchecks: list[Check[Any]],
    client: httpx.Client,
    report: Report,
    progress: Progress,
    expected: dict[str, str],
) -> None:
    suite, keys, vcfg = setup.suite, setup.keys, setup.vcfg
    progress.say(suite.describe(vcfg.resource, vcfg.required_scope or ""))
    wait = keys.refresh_wait()
    if wait > 0:
        progress.say(
            f"new suite keys: waiting {wait:.0f} s, so that the server under test may "
            "refresh its JWK Set for their kid (at most once per 30 s, MCPA-VER-033) ..."
        )
        wait_out_refresh(wait)
    if vcfg.required_scope is None:
        progress.say(
            "note: no verifier.required_scope: scope checks use a token without any requested scope"
        )
    success = frozenset(vcfg.success_status) if vcfg.success_status else SUCCESS_2XX
    target = Target(
        suite,
        vcfg.resource,
        vcfg.url,
        vcfg.method,
        vcfg.required_scope or "",
        success_status=success,
    )
    vctx = verifier_checks.VerifierRun(suite, target, client, opts.profile, opts.seed)
    skips = {}
    if not vcfg.required_scope:
        skips["verifier.insufficient_scope"] = "no verifier.required_scope in the target config"

    def gate_message(result: CheckResult) -> str:
        return preflight.verifier_gate_message(
            result, suite, keys, vcfg.resource, vcfg.required_scope or ""
        )

    _run_role(vchecks, vctx, report, progress, expected, skips=skips, gate_message=gate_message)


def profile(name: str) -> Profile:
    return PROFILES[name]
