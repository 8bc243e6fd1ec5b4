"""Run the checks: start what is needed, execute each check, classify, report progress.

With no target config the suite starts the bundled reference as subprocesses (never by
import): ``mcp-auth demo seed`` + ``mcp-auth serve`` for the Issuer class and
``mcp-auth resource-server`` (trusting the suite's own issuer) for the Verifier class, on
free loopback ports, and always stops them.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO, TypeVar

import httpx

import mcp_auth
from mcp_auth import SPEC_VERSION
from mcp_auth.conformance import config as config_mod
from mcp_auth.conformance import issuer as issuer_checks
from mcp_auth.conformance import (
    issuer_status,  # noqa: F401 - registers its checks
    stateful,  # noqa: F401 - registers the stateful check
)
from mcp_auth.conformance import verifier as verifier_checks
from mcp_auth.conformance.cases import Target
from mcp_auth.conformance.config import ConfigError, TargetConfig, VerifierConfig
from mcp_auth.conformance.framework import Check, Failed, Skipped
from mcp_auth.conformance.profiles import PROFILES, Profile
from mcp_auth.conformance.results import CheckResult, Report
from mcp_auth.conformance.suite_issuer import SuiteIssuer, free_port

C = TypeVar("C")
REFERENCE_SCOPE = "data:read"
# The suite issuer's throwaway keys, kept in --out between runs against the same server.
SUITE_KEYS_FILE = ".suite-issuer-keys.json"


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


# -- the reference as subprocesses -------------------------------------------------------------


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "mcp_auth", *args]


def wait_http(url: str, proc: subprocess.Popen[bytes] | None, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(
                f"{what} exited with status {proc.returncode} before answering {url}"
            )
        try:
            resp = httpx.get(url, timeout=2)
            if resp.status_code == 200:
                return
            last = f"HTTP {resp.status_code}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not answer {url} within {timeout:.0f} s ({last})")


@dataclass
class Processes:
    """Child processes the suite started; all stopped on exit."""

    procs: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def start(self, name: str, args: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
        fh = log.open("wb")
        proc = subprocess.Popen(
            args, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=_child_env()
        )
        fh.close()
        self.procs.append((name, proc))
        self.logs.append(log)
        return proc

    def stop(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for _, proc in reversed(self.procs):
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self.procs.clear()


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def seed_reference(tmp: Path, port: int) -> Path:
    target = tmp / "target.toml"
    cmd = _cli(
        "demo",
        "seed",
        "--data-dir",
        str(tmp / "issuer"),
        "--issuer-url",
        f"http://127.0.0.1:{port}",
        "--write-target",
        str(target),
    )
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=60, env=_child_env(), check=False
    )
    if proc.returncode != 0 or not target.exists():
        raise RuntimeError(
            f"`{' '.join(cmd[2:])}` failed ({proc.returncode}): "
            f"{(proc.stderr or proc.stdout).strip()[-800:]}"
        )
    return target


def start_reference_issuer(procs: Processes, tmp: Path, port: int) -> None:
    url = f"http://127.0.0.1:{port}"
    proc = procs.start(
        "issuer",
        _cli("serve", "--data-dir", str(tmp / "issuer"), "--port", str(port), "--issuer-url", url),
        tmp / "issuer.log",
    )
    wait_http(url + "/.well-known/oauth-authorization-server", proc, 30, "mcp-auth serve")


def start_reference_verifier(
    procs: Processes, tmp: Path, issuer_url: str, port: int
) -> VerifierConfig:
    resource = f"http://127.0.0.1:{port}"
    proc = procs.start(
        "resource-server",
        _cli(
            "resource-server",
            "--issuer",
            issuer_url,
            "--resource",
            resource,
            "--scope",
            REFERENCE_SCOPE,
            "--port",
            str(port),
        ),
        tmp / "resource-server.log",
    )
    wait_http(verifier_checks.resource_metadata_url(resource), proc, 30, "mcp-auth resource-server")
    return VerifierConfig(
        resource=resource,
        url=resource + "/data",
        method="POST",
        required_scope=REFERENCE_SCOPE,
        issuer_port=0,
    )


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


def run(opts: RunOptions) -> Report:
    roles = opts.roles
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
        with _maybe_reference(opts, progress) as (cfg, procs, tmp):
            if "issuer" in roles:
                ichecks = [c for c in checks if c.role == "issuer"]
                if cfg.issuer is None:
                    for c in ichecks:
                        _record(
                            report,
                            progress,
                            execute(c, None, "no [issuer] section in the target config", expected),
                        )
                else:
                    report.target["issuer"] = cfg.issuer.url
                    ictx = issuer_checks.IssuerRun(cfg.issuer, client, opts.profile, opts.seed)
                    _run_role(ichecks, ictx, report, progress, expected)
            if "verifier" in roles:
                _run_verifier(
                    opts,
                    cfg=cfg,
                    procs=procs,
                    tmp=tmp,
                    client=client,
                    report=report,
                    progress=progress,
                    expected=expected,
                    checks=checks,
                )
    except (RuntimeError, ConfigError, OSError) as exc:
        progress.say(f"error: {exc}")
        report.aborted = str(exc)
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
            stop = (
                f"not run: {c.id} failed, so the target is not usable as configured "
                f"({result.reason.splitlines()[0][:200]})"
            )
            report.aborted = stop
            progress.say(f"error: {stop}")


def _run_verifier(
    opts: RunOptions,
    *,
    cfg: TargetConfig,
    procs: Processes,
    tmp: Path | None,
    client: httpx.Client,
    report: Report,
    progress: Progress,
    expected: dict[str, str],
    checks: list[Check[Any]],
) -> None:
    vchecks = [c for c in checks if c.role == "verifier"]
    vcfg = opts.verifier_override or cfg.verifier
    reference = opts.config is None and opts.verifier_override is None
    if vcfg is None and not reference:
        for c in vchecks:
            _record(
                report,
                progress,
                execute(c, None, "no [verifier] section in the target config", expected),
            )
        return
    port = (
        opts.issuer_port
        if opts.issuer_port is not None
        else (vcfg.issuer_port if vcfg is not None and not reference else 0)
    )
    suite = SuiteIssuer(issuer_port=port)
    if not reference and opts.out is not None:
        suite.use_keys_file(Path(opts.out) / SUITE_KEYS_FILE)
    with suite:
        if reference:
            assert tmp is not None
            rs_port = free_port()
            progress.say(
                f"starting the bundled reference resource server on 127.0.0.1:{rs_port} ..."
            )
            vcfg = start_reference_verifier(procs, tmp, suite.url, rs_port)
        assert vcfg is not None
        progress.say(suite.describe(vcfg.resource, vcfg.required_scope or ""))
        report.target["verifier"] = vcfg.url
        if vcfg.required_scope is None:
            progress.say(
                "note: no verifier.required_scope: scope checks use a token without "
                "any requested scope"
            )
        target = Target(suite, vcfg.resource, vcfg.url, vcfg.method, vcfg.required_scope or "")
        vctx = verifier_checks.VerifierRun(suite, target, client, opts.profile, opts.seed)
        skips = {}
        if not vcfg.required_scope:
            skips["verifier.insufficient_scope"] = "no verifier.required_scope in the target config"
        _run_role(vchecks, vctx, report, progress, expected, skips=skips)


def summary_text(report: Report) -> str:
    s = report.summary()
    lines = [
        "",
        f"MCP-Auth {report.spec_version} conformance — profile {report.profile}, "
        f"seed {report.seed}",
    ]
    for k, v in report.classes().items():
        lines.append(f"  {k:9} {v}")
    stale = [c.id for c in report.checks if c.outcome == "pass" and "but passed" in c.reason]
    if stale:
        lines.append("  stale expected-failure entries (these passed): " + ", ".join(stale))
    if report.aborted:
        lines.append(f"  run aborted: {report.aborted}")
    lines.append(
        f"  {s['passed']} passed, {s['failed']} failed, {s['warned']} warned, "
        f"{s['skipped']} skipped, {s['expected_failures']} expected failures"
    )
    for c in report.checks:
        if c.outcome in ("fail", "warn"):
            lines.append(
                f"  {c.outcome.upper()} {c.id} [{', '.join(c.requirements)}]: "
                f"{c.reason.splitlines()[0][:200]}"
            )
    return "\n".join(lines)


def profile(name: str) -> Profile:
    return PROFILES[name]
