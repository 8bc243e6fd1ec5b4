"""Package layout: import names mapped onto the repository's top-level folders.

``mcp_auth`` is built from ``package/``, ``mcp_auth.reference`` from ``reference/``,
``mcp_auth.conformance`` from ``conformance/`` and ``mcp_auth.schemas`` from ``schemas/``.
Everything else is declared in pyproject.toml.
"""

from pathlib import Path

from setuptools import setup

ROOTS = {
    "mcp_auth": "package",
    "mcp_auth.reference": "reference",
    "mcp_auth.conformance": "conformance",
    "mcp_auth.schemas": "schemas",
}


# Test data in the package folders, never shipped (tools/check_schemas.py reads it in a clone).
NOT_SHIPPED = ("mcp_auth.schemas.examples",)


def _packages() -> list[str]:
    """Every folder with an ``__init__.py``, and every folder of data files (no
    ``__init__.py``, e.g. ``conformance/data/``) below them, which setuptools wants listed
    as a package for its files to be shipped without a warning."""
    found: list[str] = []
    for name, folder in ROOTS.items():
        base = Path(folder)
        for path in sorted([base, *base.rglob("*")]):
            if not path.is_dir() or "__pycache__" in path.parts:
                continue
            rel = path.relative_to(base)
            package = ".".join([name, *rel.parts])
            if any(package == n or package.startswith(n + ".") for n in NOT_SHIPPED):
                continue
            files = [f for f in path.iterdir() if f.is_file()]
            if (path / "__init__.py").exists() or any(f.suffix != ".py" for f in files):
                found.append(package)
    return found


if __name__ == "__main__":  # setuptools runs this file as __main__; tools import ROOTS
    setup(package_dir=ROOTS, packages=_packages())
