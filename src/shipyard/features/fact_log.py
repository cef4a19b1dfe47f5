"""`facts.log`: facts from a running service, one at a time, written in batches.

    facts.log("plays", {"member_id": 7, "ts": now, "seconds": 31.0})
    with facts.logger("plays", batch_size=5_000, interval=0.5) as plays:
        plays.log({...})

A `FactLog` buffers rows in memory and writes them as one batch (`facts.ingest`) when
`batch_size` rows are waiting or when the oldest has waited `interval` seconds (a background
thread checks), on `flush()`, on leaving its `with` block, and at a clean interpreter exit
(atexit). **A crash (kill -9, power loss) loses the rows still in the buffer: at most
`batch_size` rows, or `interval` seconds of them.** What was flushed before is stored durably,
batch by batch, and a batch is never half-visible.

A write that fails is reported by the next `log` or `flush` call of that table. Rows refused by
the schema are dropped (writing them again would fail again); rows of any other failure (the
database unreachable) stay in the buffer for the next flush.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Self

from shipyard.features.fact_schema import FactSchemaError

__all__ = ["DEFAULT_BATCH_SIZE", "DEFAULT_INTERVAL", "FactLog", "flush_all", "log", "logger"]

DEFAULT_BATCH_SIZE = 10_000
DEFAULT_INTERVAL = 1.0

Writer = Callable[[list[dict[str, Any]]], object]


class FactLog:
    """A buffered writer of one table's facts; thread-safe."""

    def __init__(
        self,
        table: str,
        write: Writer,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        interval: float = DEFAULT_INTERVAL,
    ) -> None:
        if batch_size < 1 or interval <= 0:
            raise ValueError("a fact log needs batch_size >= 1 and interval > 0 seconds")
        self.table = table
        self.batch_size = batch_size
        self.interval = interval
        self._write = write
        self._rows: list[dict[str, Any]] = []
        self._oldest = 0.0  # monotonic time the oldest buffered row arrived
        self._lock = threading.Lock()  # guards the buffer
        self._flushing = threading.Lock()  # one write at a time, in arrival order
        self._error: BaseException | None = None
        self._closed = threading.Event()
        self._timer = threading.Thread(
            target=self._flush_when_due, name=f"shipyard-fact-log-{table}", daemon=True
        )
        self._timer.start()

    def log(self, row: Mapping[str, Any]) -> None:
        """Buffer one fact; writes the buffer when it holds `batch_size` rows."""
        self._raise_error()
        if self._closed.is_set():
            raise RuntimeError(f"the fact log of {self.table!r} is closed")
        with self._lock:
            if not self._rows:
                self._oldest = time.monotonic()
            self._rows.append(dict(row))
            full = len(self._rows) >= self.batch_size
        if full:
            self.flush()

    def flush(self) -> None:
        """Write every buffered row now (one batch), then raise a write's error if one failed."""
        self._flush()
        self._raise_error()

    def close(self) -> None:
        """Flush and stop the background thread; a closed log takes no more rows."""
        self._closed.set()
        self._timer.join()
        self.flush()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """Whether `close` was called (the log takes no more rows)."""
        return self._closed.is_set()

    @property
    def pending(self) -> int:
        """How many rows wait in the buffer."""
        with self._lock:
            return len(self._rows)

    def _flush(self) -> None:
        with self._flushing:
            with self._lock:
                rows, self._rows = self._rows, []
            if not rows:
                return
            try:
                self._write(rows)
            except FactSchemaError as exc:
                self._error = exc
            except Exception as exc:
                with self._lock:  # keep them, ahead of what arrived meanwhile
                    self._rows[:0] = rows
                    self._oldest = time.monotonic()
                self._error = exc

    def _flush_when_due(self) -> None:
        while not self._closed.wait(min(self.interval, 0.05)):
            with self._lock:
                due = bool(self._rows) and time.monotonic() - self._oldest >= self.interval
            if due:
                self._flush()

    def _raise_error(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error


_logs: dict[tuple[int, str, str, str], FactLog] = {}
_logs_lock = threading.Lock()


def logger(
    table: str, *, batch_size: int = DEFAULT_BATCH_SIZE, interval: float = DEFAULT_INTERVAL
) -> FactLog:
    """The buffered writer of `table` in the current configuration, created on first use
    with `batch_size` and `interval` (later calls return the same one)."""
    from shipyard.config import Config

    config = Config.current()
    key = (os.getpid(), config.datastore, config.metadata, table)
    with _logs_lock:
        found = _logs.get(key)
        if found is None or found.closed:
            found = _logs[key] = FactLog(
                table, _ingester(table), batch_size=batch_size, interval=interval
            )
    return found


def log(table: str, row: Mapping[str, Any]) -> None:
    """Buffer one fact of `table` (see `FactLog`)."""
    logger(table).log(row)


def flush_all() -> None:
    """Flush the fact logs of this process (what a clean exit does too)."""
    with _logs_lock:
        logs = [found for key, found in _logs.items() if key[0] == os.getpid()]
    for found in logs:
        found.flush()


def _ingester(table: str) -> Writer:
    """A writer into `table` of the current configuration's store, opened now: a log flushed
    at interpreter exit can no longer import modules (or open what needs them)."""
    import pyarrow.compute
    import pyarrow.parquet  # noqa: F401  (imported now, for the same reason)

    from shipyard.features.facts import store

    opened = store(create=True)

    def write(rows: list[dict[str, Any]]) -> object:
        return opened.ingest(table, rows)

    return write


def _close_all() -> None:
    with _logs_lock:
        logs = [found for key, found in _logs.items() if key[0] == os.getpid()]
    for found in logs:
        found.close()


atexit.register(_close_all)
