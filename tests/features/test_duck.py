"""The process's shared DuckDB: each use has a connection of its own (its registered
relations are its own, also on other threads at once), and a forked child opens its own."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa

from shipyard.features import duck


def test_each_use_sees_only_what_it_registered_even_side_by_side() -> None:
    def total(value: int) -> int:
        with duck.connection() as connection:
            connection.register("numbers", pa.table({"n": [value] * 1000}))
            return int(connection.sql("SELECT sum(n) FROM numbers").fetchall()[0][0])

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(total, range(40))) == [1000 * value for value in range(40)]
    with duck.connection() as connection:
        names = {row[0] for row in connection.sql("SHOW TABLES").fetchall()}
        assert "numbers" not in names
        assert connection.sql("SELECT current_setting('TimeZone')").fetchall() == [("UTC",)]


def test_a_forked_child_queries_a_database_of_its_own() -> None:
    with duck.connection() as connection:
        assert connection.sql("SELECT 1").fetchall() == [(1,)]
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        try:
            with duck.connection() as connection:
                answer = connection.sql("SELECT 41 + 1").fetchall()[0][0]
            os.write(write, str(answer).encode())
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(child, 0)
    assert os.read(read, 16) == b"42" and status == 0
    os.close(read)
