"""The ``mcp-auth`` command: one entry point, subcommands contributed by the packages.

Each module in ``_SUBCOMMAND_MODULES`` exposes ``register(subparsers)``, which adds its
subcommands and sets ``handler`` (a callable taking the parsed namespace and returning an
exit code) as a default on each of them. The parsers are ``CliParser`` (defaults in the help,
one-line usage errors) and the handler runs under ``run_handler``: whatever goes wrong is one
line on stderr and a non-zero exit code, never a traceback (``mcp_auth.command_errors``).
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

from mcp_auth import SPEC_VERSION, __version__
from mcp_auth.command_errors import run_handler
from mcp_auth.command_parser import CliParser, examples

_SUBCOMMAND_MODULES = (
    "mcp_auth.reference.issuer.cli",
    "mcp_auth.reference.resource_cli",
    "mcp_auth.reference.mcp.cli",
    "mcp_auth.conformance.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = CliParser(
        prog="mcp-auth",
        description="MCP-Auth reference Delegation Issuer, Verifier and conformance suite. "
        "Each command's --help shows its options, their defaults and an example.",
        epilog=examples(
            "mcp-auth demo seed --data-dir ./demo-data",
            "mcp-auth serve --data-dir ./demo-data",
            "mcp-auth conformance run",
        ),
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
    return run_handler(args.handler, args)


if __name__ == "__main__":
    raise SystemExit(main())
