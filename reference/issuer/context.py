"""The issuer's runtime state shared by all endpoints."""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..dpop import ReplayCache
from .keys import KeyStore
from .settings import Settings
from .storage import Database

if TYPE_CHECKING:
    from .status_list import SignedLists


class SqliteReplayCache(ReplayCache):
    """DPoP ``jti`` replay cache kept in SQLite, so a replay is refused across restarts."""

    def __init__(self, db: Database) -> None:
        super().__init__(max_entries=1)
        self.db = db

    def check_and_store(self, key: str, expires_at: float, *, now: float | None = None) -> bool:
        current = time.time() if now is None else now
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM dpop_jtis WHERE exp <= ?", (int(current),))
            if conn.execute("SELECT 1 FROM dpop_jtis WHERE jti = ?", (key,)).fetchone():
                return False
            conn.execute(
                "INSERT INTO dpop_jtis (jti, exp) VALUES (?, ?)", (key, int(expires_at) + 1)
            )
        return True

    def is_full(self, now: float | None = None) -> bool:
        return False


@dataclass
class IssuerContext:
    settings: Settings
    db: Database
    keys: KeyStore
    replay_cache: ReplayCache
    admin_token: str
    signed_lists: SignedLists

    def is_admin(self, credential: str | None) -> bool:
        if not credential or not self.admin_token:
            return False
        return hmac.compare_digest(credential.encode("utf-8"), self.admin_token.encode("utf-8"))
