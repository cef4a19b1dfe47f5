"""The child process that writes a scoring server's exposures, so that the server's event
loop and predict thread never wait for the writes.

Writing one batch of exposures to the fact store costs 12-20 ms of CPU whatever its size
(a Parquet file per entity bucket, a catalogue transaction), nearly all of it holding the
GIL. Done by a thread of the server, once per flush interval, it took that time from the
event loop and the predict thread: under load at 16 clients, the 4% of experiment requests
that overlapped a write took 4 ms longer at the median than the others, which was the
experiment route's p99 excess over the model route's (docs/architecture.md, "Experiment
routing tail"). Here the server pickles the batch (about 2 ms for a second of exposures) and
waits, without the GIL, while a spawned child process writes it.

`ExposureLog` keeps its guarantees: `ingest` returns once the batch is stored and raises the
write's error, so the fact log's batching, retries and error reporting are unchanged; a
crash loses what the parent had not handed over yet (at most a flush interval). The child
runs at a lower priority than the server, and ignores SIGINT and SIGTERM, so that a Ctrl-C
sent to the server's process group still lets the server's clean shutdown write what is
buffered; the child ends when the server closes the log, or when the server dies (its end
of the pipe closes).
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shipyard.features.facts import FactStore

__all__ = ["ExposureProcess", "FactStoreAddress", "Prepare"]

#: Turns the rows handed to the child into what it ingests.
Prepare = Callable[[list[dict[str, Any]]], Any]


@dataclass(frozen=True)
class FactStoreAddress:
    """Where a fact store lives, in a form another process can open: the datastore and
    metadata URLs and the user its writes are recorded as."""

    datastore: str
    metadata: str
    user: str


class ExposureProcess:
    """Fact writes done by one child process: `ingest(table, rows)` as `FactStore.ingest`."""

    def __init__(self, address: FactStoreAddress) -> None:
        self.address = address
        self._lock = threading.Lock()
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        # spawn, not fork: the server has threads (and maybe a GPU context) by now.
        pool = ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("spawn"), initializer=_background
        )
        # Opens the store now, while the server starts, rather than at the first write.
        pool.submit(_open, self.address)
        return pool

    def ingest(
        self, table: str, rows: list[dict[str, Any]], prepare: Prepare | None = None
    ) -> None:
        """Append `rows` to `table` as one batch, in the child; raises the write's error.

        `prepare` (a module-level function, sent by name) turns the rows into what is
        ingested, in the child: rows of plain ints and strings cost the server a third of
        the time to hand over that rows of `datetime`s do.
        """
        with self._lock:
            pool = self._pool
        try:
            future: Future[None] = pool.submit(_ingest, self.address, table, rows, prepare)
            future.result()
        except BrokenProcessPool:
            # The child died (killed, out of memory): the rows stay with the caller (the fact
            # log retries them at its next flush), written by a new child.
            with self._lock:
                if self._pool is pool:
                    self._pool = self._start()
            pool.shutdown(wait=False, cancel_futures=True)
            raise

    def close(self) -> None:
        """End the child once its writes are done."""
        with self._lock:
            self._pool.shutdown(wait=True)


def _background() -> None:
    """The child's setup: it ignores the signals meant for the server, and runs behind it.

    Its writes can wait for a spare core, the server's requests cannot: a lower priority
    (nice 10, and a real-time policy inherited from the server dropped) makes it yield.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with contextlib.suppress(AttributeError, OSError):  # Linux only
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    with contextlib.suppress(OSError):
        os.nice(10)


@functools.cache
def _store(address: FactStoreAddress) -> FactStore:
    """The child's fact store at `address`, opened on first use."""
    from shipyard.client.context import ClientContext
    from shipyard.features.facts import store_in

    context = ClientContext(address.datastore, address.metadata)
    return store_in(context, address.user, create=True)


def _open(address: FactStoreAddress) -> None:
    _store(address)


def _ingest(
    address: FactStoreAddress, table: str, rows: list[dict[str, Any]], prepare: Prepare | None
) -> None:
    _store(address).ingest(table, rows if prepare is None else prepare(rows))
