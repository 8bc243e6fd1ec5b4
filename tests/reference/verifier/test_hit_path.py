"""The verified-token cache hit path with injected providers: every per-request step runs.

MCPA-VER-031: a token found in the cache skips steps 3-8 and 13 only; time (11), the DPoP
proof with its signature, htm, htu, iat, ath, replay and key binding (12), scope (14) and
status (15) are checked on every request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import pytest

from mcp_auth.reference.errors import InsufficientScope, InvalidDPoPProof, InvalidToken
from mcp_auth.reference.jose import generate_private_key
from mcp_auth.reference.verifier import StaticStatus, Verifier

from .helpers import NOW, RESOURCE, STATUS_URI, MiniIssuer, ReplayCache


def _verifier(mini: MiniIssuer, status: StaticStatus, clock: list[float]) -> Verifier:
    return Verifier(
        mini.settings(),
        keys=mini.keyset(),
        status=status,
        replay_cache=ReplayCache(),
        clock=lambda: clock[0],
    )


def _run(coro: Awaitable[Any]) -> Any:
    async def wrap() -> Any:
        return await coro

    return asyncio.run(wrap())


def _fails(cls: type[Exception], requirement: str, coro: Awaitable[Any]) -> None:
    with pytest.raises(cls) as info:
        _run(coro)
    assert getattr(info.value, "requirement", None) == requirement


def test_hit_path_runs_every_per_request_check() -> None:
    mini = MiniIssuer()
    clock = [float(NOW)]
    status = StaticStatus()
    v = _verifier(mini, status, clock)
    token = mini.token()
    first = _run(v.verify(token, mini.proof(token), method="GET", url=RESOURCE))
    assert len(v.token_cache) == 1

    def call(proof: str | None, **kw: Any) -> Awaitable[Any]:
        args: dict[str, Any] = {"method": "GET", "url": RESOURCE}
        args.update(kw)
        return v.verify(token, proof, **args)

    # a hit returns the cached principal for a fresh, valid proof
    assert _run(call(mini.proof(token, jti="p1"))) is first
    # an htu that differs only by normalisation still matches on the hit path
    assert _run(call(mini.proof(token, jti="p2", url="HTTPS://RS.example:443/data")))
    # step 12 on a hit: signature, htm, htu, iat window, ath, replay, key binding
    bad_sig = mini.proof(token, jti="p3")
    bad_sig = bad_sig[:-2] + ("AA" if bad_sig[-2:] != "AA" else "BA")
    _fails(InvalidDPoPProof, "MCPA-VER-018", call(bad_sig))
    _fails(InvalidDPoPProof, "MCPA-VER-018", call(None))
    _fails(InvalidDPoPProof, "MCPA-VER-019", call(mini.proof(token, jti="p4", method="POST")))
    _fails(
        InvalidDPoPProof,
        "MCPA-VER-020",
        call(mini.proof(token, jti="p5", url="https://rs.example/other")),
    )
    _fails(InvalidDPoPProof, "MCPA-VER-021", call(mini.proof(token, jti="p6", iat=NOW - 61)))
    _fails(InvalidDPoPProof, "MCPA-VER-022", call(mini.proof("another token", jti="p7")))
    replayed = mini.proof(token, jti="p8")
    _run(call(replayed))
    _fails(InvalidDPoPProof, "MCPA-VER-024", call(replayed))
    other_key = generate_private_key("ES256")
    _fails(InvalidToken, "MCPA-VER-023", call(mini.proof(token, jti="p9", key=other_key)))
    # step 14 and step 15 on a hit
    _fails(InsufficientScope, "MCPA-VER-027", call(mini.proof(token, jti="p10"),
                                                   required_scopes="admin"))  # fmt: skip
    status.revoked[STATUS_URI] = frozenset({7})
    _fails(InvalidToken, "MCPA-VER-028", call(mini.proof(token, jti="p11")))
    status.revoked[STATUS_URI] = frozenset()
    # step 11: the entry lives exactly as long as step 11 can pass (until exp + skew);
    # after that the token is verified again and refused at step 11
    clock[0] = NOW + 200 + 30
    _fails(InvalidToken, "MCPA-VER-016", call(mini.proof(token, jti="p12", iat=NOW + 230)))
    assert len(v.token_cache) == 0
