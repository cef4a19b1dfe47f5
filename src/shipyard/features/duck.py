"""One in-memory DuckDB per process, and a connection of its own for each use.

Opening a DuckDB database costs about 12 ms (buffer manager, catalogue, thread pool); a
connection to an open one costs microseconds. Online lookups, incremental materializations,
fact reads and filter checks each run a few small queries, so they share one database: each
use gets its own connection, whose registered relations and session settings are its own and
which may run beside others on other threads. A process forked after the database was opened
opens its own (DuckDB's threads do not survive a fork). Work that sets database-wide limits
(a training frame with `memory_limit=`) opens a database of its own instead.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

__all__ = ["connection"]

_lock = threading.Lock()
_database: tuple[int, duckdb.DuckDBPyConnection] | None = None
#: A forked child never closes the database it inherited: closing would wait for DuckDB
#: threads that exist only in the parent.
_inherited: list[duckdb.DuckDBPyConnection] = []


@contextmanager
def connection() -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to this process's DuckDB, in UTC (timestamps come out the same on every
    machine), closed on exit with everything registered on it."""
    cursor = _shared().cursor()
    try:
        cursor.execute("SET TimeZone = 'UTC'")
        yield cursor
    finally:
        cursor.close()


def _shared() -> duckdb.DuckDBPyConnection:
    """The process's database, opened on first use; it spills to a folder of its own, removed
    when the process exits."""
    global _database
    with _lock:
        if _database is None or _database[0] != os.getpid():
            import duckdb

            if _database is not None:
                _inherited.append(_database[1])

            spill = tempfile.mkdtemp(prefix="shipyard-duckdb-")
            atexit.register(shutil.rmtree, spill, True)
            _database = (os.getpid(), duckdb.connect(config={"temp_directory": spill}))
        return _database[1]
