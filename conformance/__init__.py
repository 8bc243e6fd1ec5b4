"""MCP-Auth conformance suite.

Talks to implementations over HTTP only; never imports ``mcp_auth.reference``.
"""
