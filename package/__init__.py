"""MCP-Auth: delegated agent authorization (spec, reference, conformance suite).

Distributed as ``mcp-auth-spec``; imported as ``mcp_auth``; run as ``mcp-auth``.

Version scheme (CHANGELOG.md): while the specification is a draft, release ``0.N.x``
implements ``draft-(N-1)`` (0.1.x is draft-00, 0.2.x draft-01); ``x`` counts releases that
fix the reference or the suite without changing the draft they implement. A ``.devN``
version is a snapshot on the way to its release and says in ``SPEC_VERSION`` which draft it
implements today. ``__version__`` is the only copy: setuptools reads it for the
distribution's metadata. ``SPEC_VERSION`` is the only place the draft is named in code.
"""

__version__ = "0.2.0.dev0"
SPEC_VERSION = "draft-01"
DISTRIBUTION = "mcp-auth-spec"  # = pyproject.toml's project.name (tests/package/test_version.py)
