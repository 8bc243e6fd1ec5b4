"""``python -m mcp_auth.reference.issuer``: the issuer's subcommands alone."""

from __future__ import annotations

import sys

from mcp_auth.command_errors import run_handler
from mcp_auth.command_parser import CliParser

from .cli import register


def main(argv: list[str] | None = None) -> int:
    parser = CliParser(prog="python -m mcp_auth.reference.issuer")
    register(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(argv)
    return run_handler(args.handler, args)


if __name__ == "__main__":
    sys.exit(main())
