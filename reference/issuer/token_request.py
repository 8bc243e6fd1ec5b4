"""A token request as it passes the ordered checks, and the token response."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..dpop import DPoPProof, verify_dpop_proof
from ..errors import InvalidDPoPProof, InvalidRequest
from .clients import Client
from .context import IssuerContext
from .http import json_response
from .metadata import ACCESS_TOKEN_TYPE
from .settings import (
    CLOCK_SKEW,
    MAX_BODY_BYTES,
    MAX_IDENTIFIER_CHARS,
    MAX_PROOF_BYTES,
    MAX_SCOPES,
)


@dataclass
class TokenRequest:
    """One token request as it passes the checks; ``audit`` gathers refusal context."""

    ctx: IssuerContext
    request: Request
    form: dict[str, str]
    client: Client
    now: int
    audit: dict[str, Any] = field(default_factory=dict)

    def param(
        self,
        name: str,
        *,
        required: bool = True,
        limit: int = MAX_IDENTIFIER_CHARS,
        requirement: str = "MCPA-ISS-001",
    ) -> str | None:
        """A form parameter: None when absent or empty (MCPA-GEN-006, RFC 6749 section 3.2);
        a required one that is absent or empty is ``invalid_request``."""
        value = self.form.get(name)
        if value is None or value == "":
            if required:
                raise InvalidRequest(f"missing parameter {name}", requirement=requirement)
            return None
        if len(value) > limit:
            raise InvalidRequest(f"parameter {name} too long", requirement="MCPA-GEN-003")
        return value

    def requested_token_type(self, requirement: str) -> None:
        value = self.param("requested_token_type", required=False, limit=128)
        if value is not None and value != ACCESS_TOKEN_TYPE:
            raise InvalidRequest("unsupported requested_token_type", requirement=requirement)

    def scope_param(self) -> str | None:
        """``scope`` within the limits of Appendix A (step 4 of section 4.3.2).

        Section 4.4.2 of the spec: the scope tokens are the non-empty pieces between
        spaces; more than 64 of them (A.6) or one longer than 256 characters (A.8) is a
        limit overflow, ``invalid_request``. Everything else about the value — extra
        spaces, forbidden characters, repeated tokens (malformed) and the subset rule —
        is a later check answered ``invalid_scope`` (MCPA-ISS-006, MCPA-XCH-005).
        """
        value = self.param("scope", required=False, limit=MAX_BODY_BYTES)
        if value is not None:
            items = [item for item in value.split(" ") if item]
            if len(items) > MAX_SCOPES:
                raise InvalidRequest("too many scope tokens", requirement="MCPA-GEN-003")
            if any(len(item) > MAX_IDENTIFIER_CHARS for item in items):
                raise InvalidRequest("a scope token is too long", requirement="MCPA-GEN-003")
        return value

    def dpop(self, requirement: str) -> DPoPProof:
        """Verify the ``DPoP`` header (exactly one) against the token endpoint URL."""
        status = InvalidDPoPProof.TOKEN_ENDPOINT_STATUS  # 400, RFC 9449 section 5
        values = self.request.headers.getlist("dpop")
        if len(values) != 1:
            raise InvalidDPoPProof(
                "exactly one DPoP header is required", requirement=requirement, status=status
            )
        proof = values[0]
        if len(proof) > MAX_PROOF_BYTES:
            raise InvalidDPoPProof("DPoP proof too large", requirement=requirement, status=status)
        try:
            return verify_dpop_proof(
                proof,
                method="POST",
                url=self.ctx.settings.token_endpoint,
                now=self.now,
                replay_cache=self.ctx.replay_cache,
                skew=CLOCK_SKEW,
                status=status,
            )
        except InvalidDPoPProof as exc:
            raise InvalidDPoPProof(
                exc.description, requirement=requirement, detail=exc.detail, status=status
            ) from exc


def token_response(claims: dict[str, Any], token: str, now: int) -> Response:
    """The success response of both grant types (MCPA-ISS-009, MCPA-XCH-011)."""
    return json_response(
        {
            "access_token": token,
            "token_type": "DPoP",
            "expires_in": max(0, int(claims["exp"]) - now),
            "scope": claims["scope"],
            "issued_token_type": ACCESS_TOKEN_TYPE,
            "grant_id": claims["grant_id"],
        }
    )
