"""Step 12 — DPoP proof (MCPA-VER-018..022, -023 key binding, then -024 replay).

The proof checks are ``mcp_auth.reference.dpop.verify_dpop_proof`` (shared with the
issuer) with ``ath`` required and the resource-server status 401; the proof key's
thumbprint must equal ``cnf.jkt`` (``invalid_token``, MCPA-VER-023) before the replay
check, so a proof by a key other than ``cnf.jkt`` never occupies the replay cache.
"""

from __future__ import annotations

import hmac

from mcp_auth.reference.dpop import verify_dpop_proof
from mcp_auth.reference.errors import InvalidDPoPProof, InvalidToken
from mcp_auth.reference.verifier.context import VerificationContext

REQ_PROOF = "MCPA-VER-018"
REQ_BINDING = "MCPA-VER-023"


def check_dpop(ctx: VerificationContext) -> None:
    if ctx.proof is None:
        raise InvalidDPoPProof("DPoP proof missing", requirement=REQ_PROOF, status=401)
    settings = ctx.settings
    # Bytes: compare_digest raises TypeError on non-ASCII text (cnf.jkt is any string).
    expected_jkt = ctx.claims["cnf"]["jkt"].encode()

    def bind(jkt: str) -> None:
        if not hmac.compare_digest(jkt.encode(), expected_jkt):
            raise InvalidToken("DPoP proof key does not match the token", requirement=REQ_BINDING)

    proof = verify_dpop_proof(
        ctx.proof,
        method=ctx.method,
        url=ctx.url,
        now=ctx.now,
        replay_cache=ctx.replay_cache,
        access_token=ctx.token,
        max_age=settings.proof_max_age,
        skew=settings.skew,
        allowed_algs=settings.allowed_algs,
        status=401,
        expected_ath=ctx.expected_ath,
        key_binding=bind,
    )
    ctx.dpop = proof
