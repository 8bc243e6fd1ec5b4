"""The suite issuer's signing keys, kept stable across runs against a server under test.

A verifier caches the suite's JWK Set and, when a token names a ``kid`` it does not hold,
re-fetches the set at most once per 30 seconds (MCPA-VER-033). If every run brought new
keys, a second run started within 30 s of the first would meet a correct verifier that may
not refresh yet, and its first valid token would be refused. So, when the suite tests a
server it did not start, it keeps its keys in one file in the user's cache directory and
reuses them whatever ``--out`` is:

* ``$MCP_AUTH_CACHE_DIR/conformance/suite-issuer-keys.json`` when that variable is set;
* otherwise below the platform's user cache directory: ``$XDG_CACHE_HOME/mcp-auth`` or
  ``~/.cache/mcp-auth`` (Linux and other POSIX), ``~/Library/Caches/mcp-auth`` (macOS),
  ``%LOCALAPPDATA%\\mcp-auth\\Cache`` (Windows).

The directory is created owner-only (0700), the file 0600. The keys are throwaway test
keys: they sign only tokens for the loopback issuer the suite itself serves.

``--fresh-keys`` replaces them. The file also records when the suite last served its JWK
Set, so that a run with new keys can wait until the server may refresh again (at most
30 s) instead of failing.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp_auth.conformance import jose

KEYS_FILE_NAME = "suite-issuer-keys.json"
REFRESH_INTERVAL = 30.0  # seconds: MCPA-VER-033's bound on refreshes for an unknown kid


def cache_dir() -> Path:
    """The suite's user cache directory (not created here)."""
    override = os.environ.get("MCP_AUTH_CACHE_DIR")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "mcp-auth" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "mcp-auth"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg if xdg and Path(xdg).is_absolute() else Path.home() / ".cache") / "mcp-auth"


def default_path() -> Path:
    return cache_dir() / "conformance" / KEYS_FILE_NAME


@dataclass
class SuiteKeys:
    es256: jose.Key
    eddsa: jose.Key
    attacker: jose.Key
    path: Path | None = None  # None: throwaway keys for this run only
    new: bool = True  # no server can have fetched these keys before this run
    served_at: float | None = None  # when a previous run last served the old JWK Set

    @classmethod
    def generate(cls, path: Path | None = None) -> SuiteKeys:
        return cls(
            jose.Key.generate("ES256", "suite-es256-" + jose.random_id(6)),
            jose.Key.generate("Ed25519", "suite-ed25519-" + jose.random_id(6)),
            jose.Key.generate("ES256", "attacker-1"),
            path,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "es256": self.es256.private_jwk(),
            "eddsa": self.eddsa.private_jwk(),
            "attacker": self.attacker.private_jwk(),
        }
        return out

    def refresh_wait(self, now: float | None = None) -> float:
        """Seconds to wait before new keys are first used, so that a server that fetched
        the previous keys may refresh for the new ``kid`` (0 when nothing is known)."""
        if not self.new or self.served_at is None:
            return 0.0
        elapsed = (time.time() if now is None else now) - self.served_at
        return max(0.0, min(REFRESH_INTERVAL, REFRESH_INTERVAL - elapsed))


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _parse(data: dict[str, Any], path: Path) -> SuiteKeys | None:
    try:
        keys = SuiteKeys(
            jose.Key.from_jwk(data["es256"]),
            jose.Key.from_jwk(data["eddsa"]),
            jose.Key.from_jwk(data["attacker"]),
            path,
            new=False,
        )
        keys.eddsa.alg = "Ed25519"  # a key file written before RFC 9864 says EdDSA
    except (KeyError, TypeError, ValueError, jose.JoseError):
        return None
    served = data.get("served_at")
    keys.served_at = float(served) if isinstance(served, int | float) else None
    return keys


def _write(path: Path, data: dict[str, Any], *, replace: bool) -> bool:
    """Write ``data`` owner-only; without ``replace`` an existing file wins (False)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".keys-", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        if replace:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)  # atomic "create if absent": a concurrent run may win
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def load_or_create(path: Path, *, fresh: bool = False) -> SuiteKeys:
    """The stored keys, or new ones stored at ``path`` (always, with ``fresh``)."""
    stored = _read(path)
    if not fresh and stored is not None:
        keys = _parse(stored, path)
        if keys is not None:
            return keys
    keys = SuiteKeys.generate(path)
    if fresh and stored is not None:
        served = stored.get("served_at")
        keys.served_at = float(served) if isinstance(served, int | float) else None
    # Replace a file that exists but is unusable; create an absent one only if no
    # concurrent run created it first.
    if not _write(path, keys.to_json(), replace=fresh or path.exists()):
        again = _parse(_read(path) or {}, path)  # another run created it first: share it
        if again is not None:
            return again
    return keys


def record_served(keys: SuiteKeys, when: float) -> None:
    """Note in the key file when the JWK Set with these keys was last served."""
    if keys.path is None:
        return
    data = keys.to_json()
    data["served_at"] = when
    with contextlib.suppress(OSError):
        _write(keys.path, data, replace=True)
