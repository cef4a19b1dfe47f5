"""A time limit on reading each request, so idle and slow connections cannot pile up.

uvicorn closes a kept-alive connection that stays idle after a response
(`timeout_keep_alive`), but nothing else: a connection that never sends a byte, or sends
its headers or body a byte at a time, is held open forever, and enough of them exhaust the
server (slowloris). `read_timeout_protocol` wraps uvicorn's HTTP protocol class with one
timer per request, armed when the connection opens and again after each response: if the
request has not been read in full when it fires, the connection is closed. Time the app
spends answering is not limited: the timer does nothing once a request has been read.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["read_timeout_protocol"]


def read_timeout_protocol(base: type[Any], seconds: float) -> type[asyncio.Protocol]:
    """`base` (uvicorn's `H11Protocol` or `HttpToolsProtocol`) with a read time limit."""

    class ReadTimeoutProtocol(base):  # type: ignore[misc,valid-type]
        _read_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm_read_timer()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm_read_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._read_timer is not None:
                self._read_timer.cancel()
            super().connection_lost(exc)

        def _arm_read_timer(self) -> None:
            if self._read_timer is not None:
                self._read_timer.cancel()
            self._read_timer = self.loop.call_later(seconds, self._read_timed_out)

        def _read_timed_out(self) -> None:
            cycle = self.cycle
            # No request yet (or only part of its headers), or its body still arriving
            # while nothing has been answered: the client is too slow.
            reading = (
                cycle is None
                or cycle.response_complete
                or (cycle.more_body and not cycle.response_started)
            )
            if reading and not self.transport.is_closing():
                self.transport.close()

    ReadTimeoutProtocol.__name__ = f"ReadTimeout{base.__name__}"
    return ReadTimeoutProtocol
