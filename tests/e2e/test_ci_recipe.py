"""The vendor CI recipe works as written: its steps run against the bundled reference.

`examples/ci/github-actions.yml` (plain steps), `action.yml` (the composite action) and
`examples/ci/github-actions-action.yml` (a workflow that uses it) are the files the
conformance guide includes. Each `run:` step is executed here with bash, as the runner
would, in a temporary folder laid out like a vendor's repository, with the bundled
reference issuer on a free loopback port as the server under test. Two steps are
replaced, by id: `start-server` (we start the reference instead) and `install` (the suite
is already installed here; the test checks what the step would install). `uses:` steps
of third-party actions are not run; their pins and inputs are checked.

    python -m pytest -q tests/e2e/test_ci_recipe.py
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from mcp_auth import DISTRIBUTION, SPEC_VERSION, __version__, schemas
from mcp_auth.conformance import runner

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "examples/ci/github-actions.yml"
ACTION = ROOT / "action.yml"
ACTION_WORKFLOW = ROOT / "examples/ci/github-actions-action.yml"
REPLACED = {"start-server", "install"}
PIN = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def _yaml(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text("utf-8"))
    return data


# -- a tiny step runner: bash, env, GITHUB_OUTPUT, and the expressions our files use --------


@dataclass
class Context:
    workspace: Path
    scratch: Path  # the runner's own files: the step script, GITHUB_OUTPUT, the summary
    env: dict[str, str]
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)

    def value(self, expr: str) -> str:
        """`a || b`, `inputs.x`, `steps.id.outputs.x`, `github.action_path`, 'literal'."""
        result = ""
        for operand in (o.strip() for o in expr.split("||")):
            if operand.startswith("'") and operand.endswith("'"):
                result = operand[1:-1]
            elif operand.startswith("inputs."):
                result = self.inputs[operand.removeprefix("inputs.")]
            elif m := re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", operand):
                result = self.outputs.get(m[1], {}).get(m[2], "")
            elif operand == "github.action_path":
                result = str(ROOT)
            else:
                raise AssertionError(f"the test's step runner does not know ${{{{ {operand} }}}}")
            if result:
                return result
        return result

    def expand(self, text: str) -> str:
        return EXPRESSION.sub(lambda m: self.value(m[1]), text)


def run_step(ctx: Context, step: dict[str, Any], step_env: dict[str, str]) -> None:
    script = step["run"]
    assert "${{" not in script, f"step {step.get('name')!r}: pass expressions through env:"
    tmp = ctx.scratch
    out_file = tmp / "github-output"
    out_file.write_text("")
    env = {
        **ctx.env,
        **{k: ctx.expand(str(v)) for k, v in step_env.items()},
        "GITHUB_OUTPUT": str(out_file),
        "GITHUB_STEP_SUMMARY": str(tmp / "step-summary.md"),
        "GITHUB_WORKSPACE": str(ctx.workspace),
    }
    script_file = tmp / "step.sh"
    script_file.write_text(script)
    # GitHub runs `shell: bash` as below, and a run step without a shell as `bash -e {0}`.
    shell = step.get("shell")
    cmd = (
        ["bash", "--noprofile", "--norc", "-eo", "pipefail"] if shell == "bash" else ["bash", "-e"]
    )
    proc = subprocess.run(
        [*cmd, str(script_file)],
        cwd=ctx.workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, (
        f"step {step.get('name')!r} exited {proc.returncode}\n"
        f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    )
    outputs = dict(line.split("=", 1) for line in out_file.read_text().splitlines() if "=" in line)
    if "id" in step:
        ctx.outputs[step["id"]] = outputs


def _vendor_env() -> dict[str, str]:
    """The environment a step sees: this interpreter's scripts first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


# -- the server under test: the bundled reference, as a vendor repository sees it ------------


@dataclass
class Vendor:
    workspace: Path
    server_url: str


@pytest.fixture(scope="module")
def vendor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vendor]:
    """A vendor's checkout (conformance/target.toml, an empty expected-failures file) and
    the reference issuer running as the server under test."""
    workspace = tmp_path_factory.mktemp("vendor") / "repo"
    conf = workspace / "conformance"
    conf.mkdir(parents=True)
    port = runner.free_port()
    runner.seed_reference(conf, port)  # writes conformance/target.toml and the issuer data
    (conf / "expected-failures.toml").write_text("# no known gaps\n")
    procs = runner.Processes()
    try:
        runner.start_reference_issuer(procs, conf, port)
        yield Vendor(workspace, f"http://127.0.0.1:{port}")
    finally:
        procs.stop()


# -- the plain workflow ----------------------------------------------------------------------


def test_workflow_runs_as_written(vendor: Vendor, tmp_path: Path) -> None:
    job = _yaml(WORKFLOW)["jobs"]["conformance"]
    ws = vendor.workspace
    ctx = Context(ws, tmp_path, {**_vendor_env(), **job["env"], "SERVER_URL": vendor.server_url})
    ran = []
    for step in job["steps"]:
        if "uses" in step or step.get("id") in REPLACED or "failure()" in step.get("if", ""):
            continue
        assert "if" not in step, f"the test's step runner cannot decide if: {step['if']}"
        run_step(ctx, step, step.get("env", {}))
        ran.append(step["name"])
    assert ran == ["Wait until the server under test answers", "Run the conformance suite"]
    report = json.loads((ws / "conformance-report/report.json").read_text())
    schemas.validate("conformance-report", report)
    assert report["classes"]["Issuer"] == "passed"
    assert report["profile"] == "default"
    assert (report["spec_version"], report["suite_version"]) == (SPEC_VERSION, __version__)
    # What the steps that were not run would have got.
    steps = {s.get("id") or s.get("uses", "").split("@")[0]: s for s in job["steps"]}
    assert (ws / steps["actions/upload-artifact"]["with"]["path"] / "report.html").is_file()
    assert (
        ws / steps["peaceiris/actions-gh-pages"]["with"]["publish_dir"] / "badge.json"
    ).is_file()


def test_workflow_installs_the_release_that_implements_this_draft() -> None:
    job = _yaml(WORKFLOW)["jobs"]["conformance"]
    install = next(s for s in job["steps"] if s.get("id") == "install")
    minor = __version__.split(".")[1]
    assert install["run"] == f'python -m pip install "{DISTRIBUTION}~=0.{minor}.0"'
    draft = f"draft-{int(minor) - 1:02d}"
    assert f"(0.{minor}.x implements {draft})" in install["name"]


# -- the composite action --------------------------------------------------------------------


def _action_inputs(**given: str) -> dict[str, str]:
    declared = _yaml(ACTION)["inputs"]
    unknown = set(given) - set(declared)
    assert not unknown, f"action.yml has no input {unknown}"
    missing = {k for k, v in declared.items() if v.get("required") and k not in given}
    assert not missing, f"required inputs {missing} not given"
    return {k: given.get(k, str(v.get("default", ""))) for k, v in declared.items()}


def test_action_runs_against_the_reference(vendor: Vendor, tmp_path: Path) -> None:
    action = _yaml(ACTION)
    assert action["runs"]["using"] == "composite"
    ws = vendor.workspace
    ctx = Context(
        ws,
        tmp_path,
        _vendor_env(),
        inputs=_action_inputs(
            config="conformance/target.toml",
            role="issuer",
            profile="quick",
            **{"expected-failures": "conformance/expected-failures.toml"},
            out="action-report",
        ),
    )
    ran = []
    for step in action["runs"]["steps"]:
        if "uses" in step:
            continue
        assert "if" not in step, f"the test's step runner cannot decide if: {step['if']}"
        env = step.get("env", {})
        if step.get("id") == "install":
            # Installs the suite from the action's own checkout unless told otherwise.
            assert ctx.expand(env["MCPA_SUITE"]) == str(ROOT)
            continue
        run_step(ctx, step, env)
        ran.append(step["id"] if "id" in step else step["name"])
    assert ran[0] == "run" and len(ran) == 2  # run, then the step that fails on failure
    outputs = {k: ctx.expand(v["value"]) for k, v in action["outputs"].items()}
    assert (outputs["exit-code"], outputs["result"]) == ("0", "passed")
    for key in ("report-json", "report-html", "junit", "badge-json", "badge-svg"):
        assert (ws / outputs[key]).is_file(), key
    badge = json.loads((ws / outputs["badge-json"]).read_text())
    assert badge["message"] == f"Issuer (suite {__version__})"
    summary = (tmp_path / "step-summary.md").read_text("utf-8")
    assert f"### MCP-Auth {SPEC_VERSION} conformance (suite {__version__}, profile quick" in summary
    assert "| Issuer | passed |" in summary


def test_action_fails_the_step_when_the_suite_fails(vendor: Vendor, tmp_path: Path) -> None:
    """A failed run still writes the outputs; the last step exits with the suite's code."""
    steps = _yaml(ACTION)["runs"]["steps"]
    inputs = _action_inputs(config="no-such-target.toml", out="failed-report")
    ctx = Context(vendor.workspace, tmp_path, _vendor_env(), inputs=inputs)
    run = next(s for s in steps if s.get("id") == "run")
    run_step(ctx, run, run["env"])  # the suite's failure does not stop the upload step
    assert ctx.outputs["run"]["exit-code"] == "2" and ctx.outputs["run"]["result"] == "error"
    with pytest.raises(AssertionError, match="exited 2"):
        run_step(ctx, steps[-1], steps[-1]["env"])


def test_action_workflow_uses_the_action_with_its_inputs() -> None:
    job = _yaml(ACTION_WORKFLOW)["jobs"]["conformance"]
    step = next(s for s in job["steps"] if s.get("id") == "conformance")
    assert step["uses"].startswith("OWNER/REPO@")
    _action_inputs(**step["with"])  # every input exists, every required one is given


# -- pins ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [WORKFLOW, ACTION, ACTION_WORKFLOW], ids=lambda p: p.name)
def test_third_party_actions_are_pinned_to_a_commit(path: Path) -> None:
    """A tag can be moved to other code by whoever controls the action; a commit SHA
    cannot. The comment names the release, so a reader and an updater both see it."""
    uses = [
        line.split("uses:", 1)[1].strip()
        for line in path.read_text("utf-8").splitlines()
        if line.strip().startswith(("uses:", "- uses:"))
    ]
    assert uses
    for ref in uses:
        if ref.startswith("OWNER/REPO@"):  # the placeholder for this repository
            continue
        assert PIN.match(ref), f"{path.name}: {ref!r} is not pinned as owner/repo@<sha> # vX.Y.Z"
