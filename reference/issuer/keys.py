"""The issuer's signing keys: ES256 and Ed25519, generated on first start, rotated by kid.

Each key is one JSON file ``<data-dir>/keys/<kid>.json`` (mode 0600) holding the private
JWK, ``created_at``, ``active_from`` and ``retired_at``. ``kid`` is the key's RFC 7638
thumbprint. Rotation (``mcp-auth keys rotate``) publishes a new key per algorithm at once
but signs with it only ``ROTATION_LEAD`` seconds later (the JWKS ``max-age`` plus the
verifiers' 30 s unknown-``kid`` refresh interval, MCPA-DSC-008); the previous key signs
until then and stays in the JWKS until everything it signed has expired (MCPA-DSC-004).
``rotate(compromised=True)`` instead deletes every existing key at once (MCPA-SEC-006).
A running issuer notices rotation through the folder's modification time.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..jose import (
    PrivateKey,
    canonical_alg,
    generate_private_key,
    jwk_thumbprint,
    private_jwk,
    private_key_from_jwk,
    public_jwk,
    same_alg,
    sign_compact,
)

ALGS = ("ES256", "Ed25519")
JWKS_MAX_AGE = 60
ROTATION_LEAD = JWKS_MAX_AGE + 30


def write_private_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically with mode 0600 (created with that mode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    key: PrivateKey
    created_at: int
    retired_at: int | None
    active_from: int

    def signs_at(self, now: int) -> bool:
        return self.active_from <= now and (self.retired_at is None or self.retired_at > now)

    def public(self) -> dict[str, str]:
        return public_jwk(self.key, self.kid, self.alg)


class KeyStore:
    """Signing keys in a folder; ``retention`` is how long a retired key stays published."""

    def __init__(self, folder: Path, *, retention: int) -> None:
        self.folder = folder
        self.retention = retention
        self._lock = threading.Lock()
        self._stamp: int | None = None
        self._keys: list[SigningKey] = []

    # -- files ------------------------------------------------------------------------
    def _load(self) -> None:
        keys: list[SigningKey] = []
        for path in sorted(self.folder.glob("*.json")):
            data = json.loads(path.read_text(encoding="utf-8"))
            key = private_key_from_jwk(data["private_jwk"])
            created = int(data["created_at"])
            keys.append(
                SigningKey(
                    data["kid"],
                    canonical_alg(data["alg"]),  # keys stored before RFC 9864 say EdDSA
                    key,
                    created,
                    data.get("retired_at"),
                    int(data.get("active_from", created)),
                )
            )
        self._keys = keys

    def _refresh(self) -> None:
        try:
            stamp = self.folder.stat().st_mtime_ns
        except FileNotFoundError:
            stamp = -1
        if stamp != self._stamp:
            if stamp == -1:
                self._keys = []
            else:
                self._load()
            self._stamp = stamp

    def _write(self, key: SigningKey) -> None:
        record: dict[str, Any] = {
            "kid": key.kid,
            "alg": key.alg,
            "created_at": key.created_at,
            "retired_at": key.retired_at,
            "active_from": key.active_from,
            "private_jwk": private_jwk(key.key, key.kid),
        }
        write_private_file(self.folder / f"{key.kid}.json", json.dumps(record, indent=2) + "\n")

    def _new_key(self, alg: str, now: int, active_from: int | None = None) -> SigningKey:
        private = generate_private_key(alg)
        kid = jwk_thumbprint(public_jwk(private))
        key = SigningKey(kid, alg, private, now, None, now if active_from is None else active_from)
        self._write(key)
        return key

    # -- operations -------------------------------------------------------------------
    def ensure(self) -> list[SigningKey]:
        """Create the folder (0700) and one active key per algorithm if missing."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        created: list[SigningKey] = []
        with self._lock:
            self._stamp = None
            self._refresh()
            now = int(time.time())
            for alg in ALGS:
                if not any(k.alg == alg and k.signs_at(now) for k in self._keys):
                    created.append(self._new_key(alg, now))
            self._stamp = None
            self._refresh()
        return created

    def rotate(self, *, compromised: bool = False, now: int | None = None) -> list[SigningKey]:
        """A new key per algorithm; see the module docstring for the timing."""
        with self._lock:
            self._stamp = None
            self._refresh()
            moment = int(time.time()) if now is None else now
            if compromised:
                for key in self._keys:
                    (self.folder / f"{key.kid}.json").unlink(missing_ok=True)
                created = [self._new_key(alg, moment) for alg in ALGS]
            else:
                switch = moment + ROTATION_LEAD
                for key in self._keys:
                    if key.retired_at is None or key.retired_at > switch:
                        self._write(
                            SigningKey(
                                key.kid, key.alg, key.key, key.created_at, switch, key.active_from
                            )
                        )
                created = [self._new_key(alg, moment, switch) for alg in ALGS]
            self._stamp = None
            self._refresh()
        return created

    def all_keys(self) -> list[SigningKey]:
        with self._lock:
            self._refresh()
            return list(self._keys)

    def published(self, now: int | None = None) -> list[SigningKey]:
        """Active keys and retired keys whose signatures may still be live."""
        moment = int(time.time()) if now is None else now
        return [
            k
            for k in self.all_keys()
            if k.retired_at is None or k.retired_at + self.retention > moment
        ]

    def jwks(self, now: int | None = None) -> dict[str, Any]:
        return {"keys": [k.public() for k in self.published(now)]}

    def current(self, alg: str, now: int | None = None) -> SigningKey:
        """The key that signs for ``alg`` now: the newest one already active, not retired."""
        moment = int(time.time()) if now is None else now
        usable = [k for k in self.all_keys() if same_alg(k.alg, alg) and k.signs_at(moment)]
        if not usable:
            raise RuntimeError(f"no active {alg} signing key; run the issuer once to create one")
        return max(usable, key=lambda k: (k.active_from, k.created_at, k.kid))

    def find(self, kid: object, alg: object) -> SigningKey | None:
        """The published key with exactly this kid and alg, or None."""
        if not isinstance(kid, str) or not isinstance(alg, str):
            return None
        found = [k for k in self.published() if k.kid == kid and same_alg(k.alg, alg)]
        return found[0] if len(found) == 1 else None

    def sign(self, header: dict[str, Any], claims: dict[str, Any], alg: str) -> str:
        key = self.current(canonical_alg(alg))
        return sign_compact({**header, "kid": key.kid}, claims, key.key, key.alg)
