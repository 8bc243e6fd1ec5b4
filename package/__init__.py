"""MCP-Auth: delegated agent authorization (spec, reference, conformance suite)."""

__version__ = "0.1.0.dev0"
SPEC_VERSION = "draft-01"
