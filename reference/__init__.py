"""Reference Delegation Issuer and Verifier for MCP-Auth."""
