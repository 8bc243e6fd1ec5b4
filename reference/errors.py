"""Typed errors keyed by OAuth error code, shared by the issuer and the verifier.

An ``OAuthError`` carries what a client may see (``error``, ``description``, HTTP
``status``) and what only the logs may see (``detail``). ``requirement`` names the spec
requirement (``MCPA-...``) whose check failed. ``mcpa_error`` is MCP-Auth's finer reason
for an exchange refusal (the registered values of spec Table 4-4, MCPA-XCH-015): it goes to
the client in the body, next to ``error``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class OAuthError(Exception):
    """An error answered in the OAuth error format (RFC 6749 section 5.2, RFC 6750 section 3)."""

    error: ClassVar[str] = "invalid_request"
    status: ClassVar[int] = 400

    def __init__(
        self,
        description: str,
        *,
        requirement: str | None = None,
        detail: str | None = None,
        status: int | None = None,
        mcpa_error: str | None = None,
    ) -> None:
        super().__init__(description)
        self.description = description
        self.requirement = requirement
        self.detail = detail
        self.mcpa_error = mcpa_error
        if status is not None:
            self.status = status  # type: ignore[misc]

    # Further members of the error body (RFC 6749 section 5.2 allows them).
    members: ClassVar[dict[str, Any]] = {}

    def body(self) -> dict[str, Any]:
        """The JSON body a client receives: never ``detail``."""
        body: dict[str, Any] = {
            "error": self.error,
            "error_description": self.description,
            **self.members,
        }
        if self.mcpa_error is not None:
            body["mcpa_error"] = self.mcpa_error
        return body

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.error!r}, {self.description!r}, {self.requirement!r})"


class InvalidRequest(OAuthError):
    error = "invalid_request"
    status = 400


class InvalidClient(OAuthError):
    error = "invalid_client"
    status = 401


class InvalidGrant(OAuthError):
    error = "invalid_grant"
    status = 400


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"
    status = 400


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"
    status = 400


class InvalidScope(OAuthError):
    error = "invalid_scope"
    status = 400


class InvalidTarget(OAuthError):
    error = "invalid_target"
    status = 400


class InvalidDPoPProof(OAuthError):
    """``invalid_dpop_proof`` (RFC 9449): its HTTP status depends on who answers.

    The token endpoint answers 400 (RFC 9449 section 5, ``TOKEN_ENDPOINT_STATUS``, the
    class default); a resource server answers 401 with a ``DPoP`` challenge (RFC 9449
    section 7.1, ``RESOURCE_SERVER_STATUS``). Resource-server code constructs it with
    ``status=InvalidDPoPProof.RESOURCE_SERVER_STATUS`` (the verifier passes 401 to
    ``verify_dpop_proof``) and can pass any error it is about to answer through
    :func:`at_resource_server`, which makes the 401 hold whatever built the error.
    """

    error = "invalid_dpop_proof"
    status = 400
    TOKEN_ENDPOINT_STATUS: ClassVar[int] = 400
    RESOURCE_SERVER_STATUS: ClassVar[int] = 401


class InvalidToken(OAuthError):
    error = "invalid_token"
    status = 401


class InsufficientScope(OAuthError):
    error = "insufficient_scope"
    status = 403


class AccessDenied(OAuthError):
    error = "access_denied"
    status = 403


class QuotaExceeded(OAuthError):
    """``quota_exceeded`` (MCPA-GRT-026): a grant quota of Appendix A is full.

    ``quota`` names it (``pending_per_client``, ``pending_per_user``, ``live_per_client``)
    and is sent as the member ``mcpa_quota``.
    """

    error = "quota_exceeded"
    status = 403

    def __init__(self, description: str, *, quota: str, requirement: str | None = None) -> None:
        super().__init__(description, requirement=requirement, detail=f"quota {quota}")
        self.quota = quota
        self.members = {"mcpa_quota": quota}  # type: ignore[misc]


class NotFound(OAuthError):
    error = "not_found"
    status = 404


class RequestTooLarge(OAuthError):
    error = "invalid_request"
    status = 413


class TemporarilyUnavailable(OAuthError):
    error = "temporarily_unavailable"
    status = 503


class ServerError(OAuthError):
    error = "server_error"
    status = 500


def at_resource_server(error: OAuthError) -> OAuthError:
    """``error`` as a resource server must answer it.

    An ``invalid_dpop_proof`` is 401 at a resource server (RFC 9449 section 7.1,
    MCPA-VER-018..024) even when it was built with the token endpoint's 400 (for example
    by ``verify_dpop_proof`` called without ``status``): such an error is returned as a
    copy with status 401, with the same description, requirement and detail. Every other
    error is returned unchanged.
    """
    if not isinstance(error, InvalidDPoPProof) or error.status == error.RESOURCE_SERVER_STATUS:
        return error
    mapped = InvalidDPoPProof(
        error.description,
        requirement=error.requirement,
        detail=error.detail,
        status=InvalidDPoPProof.RESOURCE_SERVER_STATUS,
    )
    mapped.__cause__ = error
    return mapped
