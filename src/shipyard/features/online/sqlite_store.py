"""The SQLite online store: the embedded default, one file beside the metadata database.

Two tables: `vectors` (version, entity key, vector), clustered on its key so a lookup is one
B-tree descent, and `versions` (one JSON record per feature set version). WAL lets lookups
go on while a materialization writes; each `write_vectors` call is one transaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from shipyard.features.online.errors import OnlineStoreUnavailable
from shipyard.features.online.records import OnlineVersion

__all__ = ["SQLiteOnlineStore"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS vectors ("
    " version TEXT NOT NULL, entity TEXT NOT NULL, vector BLOB NOT NULL,"
    " PRIMARY KEY (version, entity)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS versions (version TEXT PRIMARY KEY, record TEXT NOT NULL)",
)
#: SQLite's limit on the parameters of one statement is 32766 (3.32+); stay well below it.
_CHUNK = 900


class SQLiteOnlineStore:
    """An online store in one SQLite file (created with its folder on first use)."""

    def __init__(self, path: Path) -> None:
        self.url = f"sqlite:///{path}"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # One connection shared by the threads of a server, used under a lock: SQLite
            # serializes a connection's statements anyway, and one connection keeps its cache.
            self._connection = sqlite3.connect(
                path, timeout=60, check_same_thread=False, isolation_level=None
            )
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA synchronous=NORMAL")
            for statement in _SCHEMA:
                self._connection.execute(statement)
        except (OSError, sqlite3.Error) as exc:
            raise OnlineStoreUnavailable(
                f"cannot open the online store {self.url}: {exc}; set SHIPYARD_ONLINE_STORE to "
                "a writable file (sqlite:///path/online.db) or a Redis URL"
            ) from exc
        self._lock = threading.Lock()

    def write_vectors(self, version: str, vectors: Mapping[str, bytes]) -> None:
        rows = [(version, key, vector) for key, vector in vectors.items()]
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                self._connection.executemany(
                    "INSERT OR REPLACE INTO vectors (version, entity, vector) VALUES (?, ?, ?)",
                    rows,
                )
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")

    def read_vectors(self, version: str, keys: Sequence[str]) -> list[bytes | None]:
        if len(keys) == 1:  # the common case of a server: no temporary structures
            with self._lock:
                row = self._connection.execute(
                    "SELECT vector FROM vectors WHERE version = ? AND entity = ?",
                    (version, keys[0]),
                ).fetchone()
            return [None if row is None else row[0]]
        found: dict[str, bytes] = {}
        with self._lock:
            for start in range(0, len(keys), _CHUNK):
                chunk = list(dict.fromkeys(keys[start : start + _CHUNK]))
                marks = ", ".join("?" * len(chunk))
                found.update(
                    self._connection.execute(
                        "SELECT entity, vector FROM vectors"
                        f" WHERE version = ? AND entity IN ({marks})",
                        (version, *chunk),
                    ).fetchall()
                )
        return [found.get(key) for key in keys]

    def count(self, version: str) -> int:
        with self._lock:
            (total,) = self._connection.execute(
                "SELECT count(*) FROM vectors WHERE version = ?", (version,)
            ).fetchone()
        return int(total)

    def sample_keys(self, version: str, size: int) -> list[str]:
        with self._lock:
            rows = self._connection.execute(
                "SELECT entity FROM vectors WHERE version = ? ORDER BY random() LIMIT ?",
                (version, size),
            ).fetchall()
        return [row[0] for row in rows]

    def get_version(self, version: str) -> OnlineVersion | None:
        with self._lock:
            row = self._connection.execute(
                "SELECT record FROM versions WHERE version = ?", (version,)
            ).fetchone()
        return None if row is None else OnlineVersion.from_json(json.loads(row[0]))

    def put_version(self, record: OnlineVersion) -> None:
        with self._lock:
            self._connection.execute(
                "INSERT OR REPLACE INTO versions (version, record) VALUES (?, ?)",
                (record.version, json.dumps(record.to_json())),
            )

    def list_versions(self) -> list[OnlineVersion]:
        with self._lock:
            rows = self._connection.execute("SELECT record FROM versions").fetchall()
        records = [OnlineVersion.from_json(json.loads(row[0])) for row in rows]
        return sorted(records, key=lambda r: (r.feature_set, r.version))

    def close(self) -> None:
        with self._lock:
            self._connection.close()
