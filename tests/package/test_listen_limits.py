"""The serve helper's limits: the descriptor limit and the uvicorn settings (Appendix A)."""

from __future__ import annotations

import resource

from mcp_auth.listen import fd_limit
from mcp_auth.request_deadline import deadline_protocol


def test_the_soft_descriptor_limit_is_raised_toward_the_hard_one() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))
        got = fd_limit()
        assert got == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        assert got >= min(256, hard)
        if hard > 256:
            assert got > 256
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_protocol_carries_its_limits() -> None:
    protocol = deadline_protocol(3.0, 7)
    assert protocol.request_timeout == 3.0
    assert protocol.max_connections == 7
