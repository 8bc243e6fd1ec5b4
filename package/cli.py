"""The ``mcp-auth`` command: one entry point, subcommands contributed by the packages.

Each module in ``_SUBCOMMAND_MODULES`` exposes ``register(subparsers)``, which adds its
subcommands and sets ``handler`` (a callable taking the parsed namespace and returning an
exit code) as a default on each of them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from mcp_auth import SPEC_VERSION, __version__

_SUBCOMMAND_MODULES = (
    "mcp_auth.reference.issuer.cli",
    "mcp_auth.reference.resource_cli",
    "mcp_auth.reference.mcp.cli",
    "mcp_auth.conformance.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcp-auth",
        description="MCP-Auth reference Delegation Issuer, Verifier and conformance suite.",
    )
    parser.add_argument(
        "--version", action="version", version=f"mcp-auth {__version__} (spec {SPEC_VERSION})"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _SUBCOMMAND_MODULES:
        module = importlib.import_module(name)
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
