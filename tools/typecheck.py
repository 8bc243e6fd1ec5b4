"""Run mypy on the ``mcp_auth`` import packages.

The packages are built from top-level folders by a setuptools ``package-dir`` mapping,
which mypy cannot follow through an editable install. This script lays a tree of
per-file symlinks under ``build/typecheck/`` with the import names, then runs mypy on it.
Error paths are printed relative to the real files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from setup import ROOTS  # noqa: E402

TREE = ROOT / "build" / "typecheck"


def build_tree() -> None:
    if TREE.exists():
        shutil.rmtree(TREE)
    for name, folder in ROOTS.items():
        base = ROOT / folder
        target = TREE.joinpath(*name.split("."))
        for src in base.rglob("*"):
            if src.suffix not in {".py", ".typed"} or "__pycache__" in src.parts:
                continue
            dest = target / src.relative_to(base)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(src, dest)


def main() -> int:
    build_tree()
    cmd = [
        sys.executable,
        "-m",
        "mypy",
        "--config-file",
        str(ROOT / "pyproject.toml"),
        "-p",
        "mcp_auth",
        *sys.argv[1:],
    ]
    env = dict(os.environ, MYPYPATH=str(TREE))
    proc = subprocess.run(cmd, cwd=TREE, env=env, capture_output=True, text=True, check=False)
    out = proc.stdout.replace(str(TREE) + "/", "")
    for name, folder in sorted(ROOTS.items(), key=lambda item: -len(item[0])):
        out = out.replace(name.replace(".", "/") + "/", folder + "/")
    sys.stdout.write(out)
    sys.stderr.write(proc.stderr)
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main())
