"""Local user accounts for the consent page; passwords hashed with scrypt (RFC 7914).

Per-user random salt; verification via ``Scrypt.verify`` (constant-time compare). An
unknown user costs the same KDF run as a wrong password, so timing does not reveal
which names exist. Setting a new password ends every consent-page session of that user
(MCPA-SEC-014).
"""

from __future__ import annotations

import json
import re
import secrets
import time

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from .storage import Database

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
KEY_LENGTH = 32
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MAX_PASSWORD_BYTES = 1024
_DUMMY_SALT = secrets.token_bytes(16)


class UserError(ValueError):
    """A user name or password that cannot be stored."""


def _kdf(salt: bytes, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> Scrypt:
    return Scrypt(salt=salt, length=KEY_LENGTH, n=n, r=r, p=p)


def add_user(db: Database, name: str, password: str) -> None:
    """Create or replace a user's password; a replaced password ends the user's sessions."""
    if not USERNAME_RE.match(name):
        raise UserError("user names are 1-64 characters of letters, digits and . _ @ -")
    secret = password.encode("utf-8")
    if not 8 <= len(secret) <= MAX_PASSWORD_BYTES:
        raise UserError("passwords are 8 to 1024 bytes long")
    salt = secrets.token_bytes(16)
    digest = _kdf(salt).derive(secret)
    params = json.dumps({"alg": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P})
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO users (name, salt, hash, kdf, created_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET salt = excluded.salt, hash = excluded.hash, "
            "kdf = excluded.kdf",
            (name, salt, digest, params, int(time.time())),
        )
        conn.execute("DELETE FROM sessions WHERE user = ?", (name,))


def check_password(db: Database, name: str, password: str) -> bool:
    secret = password.encode("utf-8", errors="replace")
    row = db.query_one("SELECT salt, hash, kdf FROM users WHERE name = ?", (name,))
    if row is None or len(secret) > MAX_PASSWORD_BYTES:
        _kdf(_DUMMY_SALT).derive(secret[:MAX_PASSWORD_BYTES])
        return False
    params = json.loads(row["kdf"])
    try:
        _kdf(bytes(row["salt"]), params["n"], params["r"], params["p"]).verify(
            secret, bytes(row["hash"])
        )
    except InvalidKey:
        return False
    return True


def user_exists(db: Database, name: str) -> bool:
    return db.query_one("SELECT 1 FROM users WHERE name = ?", (name,)) is not None
