"""A deadline for receiving each whole request (slowloris, MCPA-SEC-020).

uvicorn's h11 protocol has no header or body read timeout: a client that opens a connection
and trickles its request one byte at a time holds a connection and a file descriptor for as
long as it likes. ``deadline_protocol(seconds, max_connections)`` returns an h11 protocol
class that

- closes a connection whose request (headers and body) is not complete ``seconds`` after the
  connection opened or the previous response ended; the clock is not reset by each byte;
- closes at once a connection beyond ``max_connections`` open ones, so slow clients cannot
  hold more descriptors than that.

An application waiting for the rest of a body sees ``http.disconnect`` when it is cut off.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["deadline_protocol"]

log = logging.getLogger("mcp_auth.listen")


class DeadlineH11Protocol(H11Protocol):
    """h11 with a whole-request deadline and a cap on open connections."""

    request_timeout: float = 10.0
    max_connections: int = 1000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.request_timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            log.info(
                "closed a connection that did not send its whole request within %gs",
                self.request_timeout,
            )
            self.transport.close()  # the transport then calls connection_lost

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            log.warning("refused a connection: %d connections open", self.max_connections)
            self.transport.abort()
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        cycle = self.cycle
        if cycle is not None and not cycle.more_body and not cycle.response_complete:
            self._disarm()  # the whole request is in: the application has it now

    def on_response_complete(self) -> None:
        if not self.transport.is_closing():
            self._arm()  # before the next pipelined request is handled
        super().on_response_complete()


def deadline_protocol(request_timeout: float, max_connections: int) -> type[DeadlineH11Protocol]:
    """An h11 protocol class for uvicorn's ``http=`` with these limits."""
    return type(
        "DeadlineH11Protocol",
        (DeadlineH11Protocol,),
        {"request_timeout": request_timeout, "max_connections": max_connections},
    )
