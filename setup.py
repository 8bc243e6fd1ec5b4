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


def _packages() -> list[str]:
    found: list[str] = []
    for name, folder in ROOTS.items():
        base = Path(folder)
        for init in sorted(base.rglob("__init__.py")):
            rel = init.parent.relative_to(base)
            found.append(".".join([name, *rel.parts]) if rel.parts else name)
    return found


if __name__ == "__main__":  # setuptools runs this file as __main__; tools import ROOTS
    setup(package_dir=ROOTS, packages=_packages())
