"""The import contract: the conformance suite never imports the reference implementation.

The suite tests implementations over HTTP only; it must be usable against any issuer or
verifier and must not share code (and therefore bugs) with the reference. This check is
both static and dynamic:

* static: no ``import`` / ``from ... import`` in ``conformance/`` names ``mcp_auth.reference``
  (absolute or relative), nor ``mcp_auth.cli`` (which loads every subcommand), and no
  ``importlib.import_module``/``__import__`` call is given such a name as a literal;
* dynamic: importing every ``mcp_auth.conformance`` module in a fresh interpreter leaves
  no ``mcp_auth.reference`` module in ``sys.modules``.

Usage: ``python tools/check_imports.py``; exits 1 and names each violation.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "mcp_auth.conformance"
FOLDER = ROOT / "conformance"
FORBIDDEN = ("mcp_auth.reference", "mcp_auth.cli")


def _module_name(path: Path, folder: Path) -> str:
    rel = path.relative_to(folder).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join([PACKAGE, *parts])


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    # ``module`` names a file (``pkg.__init__`` for a package), so level 1 is its package.
    parts = module.split(".")
    base = parts[: len(parts) - node.level]
    return ".".join([*base, *(node.module.split(".") if node.module else [])])


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


def static_violations(folder: Path = FOLDER) -> list[str]:
    found: list[str] = []
    for path in sorted(folder.rglob("*.py")):
        module = _module_name(path, folder)
        if path.name == "__init__.py":
            module += ".__init__"
        tree = ast.parse(path.read_text("utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(module, node)
                names = [target, *(f"{target}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Call):
                func = node.func
                called = getattr(func, "attr", None) or getattr(func, "id", None)
                if called in {"import_module", "__import__"} and node.args:
                    arg = node.args[0]
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        names = [arg.value]
            for name in names:
                if _forbidden(name):
                    rel = path.relative_to(folder.parent)
                    found.append(f"{rel}:{node.lineno}: imports {name}")
                    break
    return found


_PROBE = """
import importlib, pkgutil, sys
import mcp_auth.conformance as root
for info in pkgutil.walk_packages(root.__path__, root.__name__ + "."):
    importlib.import_module(info.name)
bad = sorted(m for m in sys.modules if m.startswith(("mcp_auth.reference", "mcp_auth.cli")))
print("\\n".join(bad))
"""


def dynamic_violations() -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=False, cwd="/"
    )
    if proc.returncode != 0:
        return [f"importing {PACKAGE} failed:\n{proc.stderr.strip()}"]
    return [f"importing {PACKAGE} loads {name}" for name in proc.stdout.split()]


def main() -> int:
    problems = static_violations() + dynamic_violations()
    for problem in problems:
        print(f"import contract: {problem}", file=sys.stderr)
    if problems:
        return 1
    print("import contract: conformance never imports the reference: ok")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
