"""Check a built wheel and sdist: every file of the package folders is shipped.

    python -m build --outdir DIST && python tools/check_dist.py DIST

The wheel must hold every file below the four package roots of setup.py (Python modules,
``py.typed``, schemas, the requirement catalog, templates, static assets: anything the code
may read at run time), under its import name, and nothing from ``NOT_SHIPPED``. Its metadata
must name the distribution, the version in ``mcp_auth.__version__``, the SPDX license and the
``mcp-auth`` command. The sdist must hold every file git tracks (so that the wheel and the
tests can be built from it), except the repository's own configuration.
Exit code 0 when all holds, 1 with one line per problem otherwise.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from setup import NOT_SHIPPED, ROOTS  # noqa: E402

SDIST_EXEMPT = (".gitignore", ".github/")


def _version() -> str:
    """``__version__`` read from the source, not from whatever is installed."""
    for line in (ROOT / "package" / "__init__.py").read_text("utf-8").splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    raise SystemExit("tools/check_dist.py: no __version__ in package/__init__.py")


def expected_wheel_files() -> dict[str, Path]:
    """Path inside the wheel -> source file, for every file below the package roots."""
    out: dict[str, Path] = {}
    for name, folder in ROOTS.items():
        base = ROOT / folder
        prefix = name.split(".")
        for src in base.rglob("*"):
            if not src.is_file() or "__pycache__" in src.parts or src.suffix == ".pyc":
                continue
            rel = src.relative_to(base)
            package = ".".join([*prefix, *rel.parts[:-1]])
            if any(package == n or package.startswith(n + ".") for n in NOT_SHIPPED):
                continue
            out["/".join([*prefix, *rel.parts])] = src
    return out


def tracked_files() -> list[str]:
    proc = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        return []  # not a clone (e.g. an unpacked sdist): nothing to compare against
    return [p for p in proc.stdout.splitlines() if not p.startswith(SDIST_EXEMPT)]


def check_wheel(wheel: Path, dist_name: str, version: str) -> list[str]:
    problems: list[str] = []
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        info = f"{dist_name.replace('-', '_')}-{version}.dist-info"
        meta = Parser().parsestr(zf.read(f"{info}/METADATA").decode("utf-8"))
        entry_points = zf.read(f"{info}/entry_points.txt").decode("utf-8")
    for path in sorted(set(expected_wheel_files()) - names):
        problems.append(f"{wheel.name}: missing {path}")
    for banned in NOT_SHIPPED:
        prefix = banned.replace(".", "/") + "/"
        if any(n.startswith(prefix) for n in names):
            problems.append(f"{wheel.name}: ships {prefix} (test data)")
    if meta["Name"] != dist_name:
        problems.append(f"{wheel.name}: metadata Name is {meta['Name']!r}, not {dist_name!r}")
    if meta["Version"] != version:
        problems.append(f"{wheel.name}: metadata Version is {meta['Version']!r}, not {version!r}")
    if meta["License-Expression"] != "Apache-2.0":
        problems.append(f"{wheel.name}: License-Expression is {meta['License-Expression']!r}")
    if f"{info}/licenses/LICENSE" not in names:
        problems.append(f"{wheel.name}: no licenses/LICENSE")
    if "mcp-auth = mcp_auth.cli:main" not in entry_points:
        problems.append(f"{wheel.name}: no mcp-auth console script")
    return problems


def check_sdist(sdist: Path, dist_name: str, version: str) -> list[str]:
    top = f"{dist_name.replace('-', '_')}-{version}/"
    with tarfile.open(sdist) as tf:
        names = {m.name.removeprefix(top) for m in tf.getmembers() if m.isfile()}
    return [f"{sdist.name}: missing {p}" for p in tracked_files() if p not in names]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python tools/check_dist.py DIST_DIR", file=sys.stderr)
        return 2
    dist = Path(argv[0])
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    dist_name, version = project["name"], _version()
    wheels, sdists = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        print(f"error: {dist} must hold one wheel and one sdist", file=sys.stderr)
        return 1
    problems = check_wheel(wheels[0], dist_name, version)
    problems += check_sdist(sdists[0], dist_name, version)
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    if problems:
        return 1
    print(f"dist OK: {wheels[0].name} and {sdists[0].name} hold every package file")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
