"""Collapse repeated identical log lines (log flood, MCPA-SEC-022).

``RepeatFilter`` lets the first record of a message through and drops the same message
from the same logger at the same level for ``window`` seconds; the first one after the
window carries `` (repeated N times)`` for the ones dropped. A flood of one line (a
slowloris, a refused-connection storm) costs one line per window instead of megabytes.
``install(window)`` puts one filter on the handlers of the root and uvicorn loggers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

__all__ = ["RepeatFilter", "install"]

MAX_KEYS = 1024  # distinct messages remembered; more (a varying flood) start afresh


class RepeatFilter(logging.Filter):
    def __init__(self, window: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window = window
        self.clock = clock
        self._seen: dict[tuple[str, int, str], list[float]] = {}  # key -> [start, dropped]

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, record.getMessage())
        now = self.clock()
        seen = self._seen.get(key)
        if seen is not None and now - seen[0] < self.window:
            seen[1] += 1
            return False
        if seen is not None and seen[1]:
            record.msg = f"{record.getMessage()} (repeated {int(seen[1])} times)"
            record.args = None
        if len(self._seen) >= MAX_KEYS and key not in self._seen:
            self._seen.clear()
        self._seen[key] = [now, 0]
        return True


def install(window: float = 10.0) -> RepeatFilter:
    """One ``RepeatFilter`` on every handler of the root and uvicorn loggers."""
    repeat = RepeatFilter(window)
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access", "asyncio"):
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RepeatFilter) for f in handler.filters):
                handler.addFilter(repeat)
    return repeat
