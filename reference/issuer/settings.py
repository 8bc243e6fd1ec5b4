"""Issuer settings: data directory, issuer identifier and the limits of the spec's Appendix A."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8400

# Appendix A limits (CONTRACT.md section 6).
MAX_BODY_BYTES = 64 * 1024
MAX_FORM_PARAMS = 32
MAX_TOKEN_BYTES = 8192
MAX_PROOF_BYTES = 4096
MAX_ASSERTION_BYTES = 4096
MAX_SCOPES = 64
MAX_LIST_ITEMS = 32
MAX_IDENTIFIER_CHARS = 256
MAX_URI_CHARS = 2048
MAX_PURPOSE_CHARS = 1024
STATUS_LIST_BITS = 1 << 17  # default entries per status list (MCPA-REV-015)
STATUS_LIST_MIN_BITS = 8
STATUS_LIST_MAX_BITS = 1 << 20  # 128 KiB, well inside A.16's 1 MiB
MAX_CLOCK_SKEW = 60  # A.12: the largest skew a conformant verifier may allow
# Grant quotas (Appendix A, A.18-A.20; MCPA-GRT-026).
PENDING_GRANTS_PER_CLIENT = 100
PENDING_GRANTS_PER_USER = 50
LIVE_GRANTS_PER_CLIENT = 10_000
ASSERTION_MAX_LIFETIME = 300
CLOCK_SKEW = 30
GRANT_DEFAULT_EXPIRES_IN = 30 * 24 * 3600
GRANT_MAX_EXPIRES_IN = 366 * 24 * 3600
SESSION_LIFETIME = 8 * 3600
# Sign-in abuse limits (Appendix A, A.24-A.28; MCPA-SEC-011 to MCPA-SEC-013).
LOGIN_FORM_LIFETIME = 3600  # seconds a sign-in form's CSRF token is accepted
LOGIN_HASH_CONCURRENCY = 2  # password hashes (16 MiB scrypt each) at once
LOGIN_HASH_WAIT = 5.0  # seconds a sign-in waits for a hashing slot, then 503
LOGIN_HASH_WAITERS = 16  # sign-ins waiting at once; more get 503 at once
LOGIN_FAILURE_WINDOW = 300  # seconds of the sliding failure windows
LOGIN_ACCOUNT_FAILURES = 5  # failed sign-ins per account per window, then 429
LOGIN_ADDRESS_FAILURES = 20  # failed sign-ins per client address per window, then 429
LOGIN_KNOWN_ADDRESS_TTL = 30 * 24 * 3600  # an address that signed in skips the account window
LOGIN_TRACKED_KEYS = 10_000  # accounts / addresses / known pairs kept in memory, each


def is_loopback_host(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_allowed_url(value: object, *, max_length: int = 2048) -> bool:
    """An absolute https URL (http on loopback, MCPA-GEN-001), no fragment, printable ASCII."""
    if not isinstance(value, str) or not 0 < len(value) <= max_length:
        return False
    if any(ord(ch) < 0x21 or ord(ch) > 0x7E for ch in value) or "#" in value:
        return False
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    if not parts.netloc or host is None:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(host))


def default_data_dir() -> Path:
    """``$MCP_AUTH_DATA_DIR``, else ``$XDG_DATA_HOME/mcp-auth``, else ``~/.local/share/...``."""
    explicit = os.environ.get("MCP_AUTH_DATA_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "mcp-auth"


@dataclass(frozen=True)
class Settings:
    """Everything the issuer needs to run; immutable once the app is built."""

    data_dir: Path = field(default_factory=default_data_dir)
    issuer_url: str = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
    config_file: Path | None = None
    max_chain_depth: int = 5
    max_token_lifetime: int = 300
    status_list_max_age: int = 60
    token_alg: str = "ES256"  # noqa: S105
    status_list_size: int = STATUS_LIST_BITS
    pending_grants_per_client: int = PENDING_GRANTS_PER_CLIENT
    pending_grants_per_user: int = PENDING_GRANTS_PER_USER
    live_grants_per_client: int = LIVE_GRANTS_PER_CLIENT

    def __post_init__(self) -> None:
        object.__setattr__(self, "issuer_url", self.issuer_url.rstrip("/"))
        if not is_allowed_url(self.issuer_url, max_length=MAX_URI_CHARS - 64):
            raise ValueError(
                "the issuer URL must be https (http only on a loopback host), without "
                "query or fragment"
            )
        parts = urlsplit(self.issuer_url)
        if parts.path not in ("", "/") or parts.query:
            raise ValueError(
                "the reference issuer is served at the root: no path or query in its URL"
            )
        if not 1 <= self.max_chain_depth <= 5:
            raise ValueError("max_chain_depth must be between 1 and 5")
        if not 1 <= self.max_token_lifetime <= 300:
            raise ValueError("max_token_lifetime must be between 1 and 300 seconds")
        if not 1 <= self.status_list_max_age <= 60:
            raise ValueError("status_list_max_age must be between 1 and 60 seconds")
        if self.token_alg == "EdDSA":  # noqa: S105 - the deprecated alias (RFC 9864)
            object.__setattr__(self, "token_alg", "Ed25519")
        if self.token_alg not in ("ES256", "Ed25519"):
            raise ValueError("token_alg must be ES256 or Ed25519")
        size = self.status_list_size
        if not STATUS_LIST_MIN_BITS <= size <= STATUS_LIST_MAX_BITS or size % 8:
            raise ValueError(
                f"status_list_size must be a multiple of 8 from {STATUS_LIST_MIN_BITS} "
                f"to {STATUS_LIST_MAX_BITS}"
            )
        for name in ("pending_grants_per_client", "pending_grants_per_user"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.live_grants_per_client < 1:
            raise ValueError("live_grants_per_client must be at least 1")

    # Paths inside the data directory.
    @property
    def db_path(self) -> Path:
        return self.data_dir / "issuer.sqlite3"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def admin_token_path(self) -> Path:
        return self.data_dir / "admin-token"

    # Endpoint URLs (CONTRACT.md section 3).
    def url(self, path: str) -> str:
        return self.issuer_url + path

    @property
    def token_endpoint(self) -> str:
        return self.url("/token")

    @property
    def grants_endpoint(self) -> str:
        return self.url("/grants")

    @property
    def consent_endpoint(self) -> str:
        return self.url("/consent")

    def status_list_uri(self, list_id: str) -> str:
        """The URI of one status list: ``{issuer}/status/{list_id}`` (MCPA-REV-016)."""
        return self.url(f"/status/{list_id}")

    @property
    def status_list_retire_margin(self) -> int:
        """Seconds after a list's last grant expiry before it may retire (MCPA-REV-017)."""
        return self.max_token_lifetime + MAX_CLOCK_SKEW

    @property
    def secure_cookies(self) -> bool:
        return self.issuer_url.startswith("https://")
