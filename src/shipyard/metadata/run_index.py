"""Listing flows and runs from a local SQLite metadata database without importing SQLAlchemy.

Why this exists: importing SQLAlchemy takes about 0.2 s, two thirds of the 0.3 s that
`shipyard runs` may take from start to answer. Listing needs two read-only queries, which the
standard library's `sqlite3` runs in a millisecond. So for the embedded default (a SQLite
file) listings read the database directly; everything else goes through `MetadataStore`.

The queries depend on the schema in `models.py` and the migrations beside this module. They
are used only when the database is at exactly the schema revision this code was written against
(`INDEX_REVISION`); for any other revision, a database that does not exist yet (the store
creates it), PostgreSQL, or an unusual SQLite URL, `open_run_index` returns None and the
caller falls back to the store. A test checks that both return identical records.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, overload

from shipyard.metadata.records import RunRecord, RunStatus

__all__ = ["RunLister", "SQLiteRunIndex", "open_run_index"]

# The schema revision the queries below were written against (see the module docstring). A
# test fails when the metadata's HEAD_REVISION moves on, so that the queries are reviewed.
INDEX_REVISION = "0004"
_SQLITE_PREFIXES = ("sqlite:///", "sqlite+pysqlite:///")
# SQLite limits bound parameters per statement; ids are looked up in batches below that.
_BATCH = 500
_BUSY_TIMEOUT_S = 30.0


class RunLister(Protocol):
    """What listing needs from the metadata: the part of `MetadataStore` that lists."""

    def list_flows(self) -> list[str]: ...

    def list_runs(
        self, flow_name: str | None = None, *, tags: Iterable[str] = (), limit: int | None = None
    ) -> list[RunRecord]: ...


def open_run_index(metadata_url: str) -> SQLiteRunIndex | None:
    """A direct reader for `metadata_url`, or None when the metadata store must be used."""
    path = _sqlite_path(metadata_url)
    if path is None or not path.is_file():
        return None
    index = SQLiteRunIndex(path)
    try:
        revision = index.revision()
    except sqlite3.Error:
        return None  # not a Shipyard database, or damaged: let the store explain
    return index if revision == INDEX_REVISION else None


def _sqlite_path(url: str) -> Path | None:
    """The file of a plain `sqlite:///path` URL; None for anything SQLAlchemy would interpret
    further (query options, percent-escapes, `file:` URIs, in-memory databases)."""
    prefix = next((p for p in _SQLITE_PREFIXES if url.startswith(p)), None)
    if prefix is None:
        return None
    database = url[len(prefix) :]
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    if "?" in database or "%" in database:
        return None
    return Path(database)


class SQLiteRunIndex:
    """Read-only listing queries on a SQLite metadata database at `INDEX_REVISION`.

    Each call opens its own connection: that costs well under a millisecond, and makes the
    index safe to share between threads and across `os.fork()`.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def __repr__(self) -> str:
        return f"SQLiteRunIndex({str(self.path)!r})"

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True, timeout=_BUSY_TIMEOUT_S)) as conn:
            conn.row_factory = sqlite3.Row
            # One transaction, so that the queries of one call see one committed state.
            conn.isolation_level = None
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")

    def revision(self) -> str | None:
        with self._connect() as conn:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return None if row is None else str(row[0])

    def list_flows(self) -> list[str]:
        """Names of all flows that have ever run, alphabetically."""
        with self._connect() as conn:
            return [row[0] for row in conn.execute("SELECT name FROM flows ORDER BY name")]

    def list_runs(
        self, flow_name: str | None = None, *, tags: Iterable[str] = (), limit: int | None = None
    ) -> list[RunRecord]:
        """Runs newest first, of one flow or of all, having every one of `tags`."""
        where: list[str] = []
        params: list[Any] = []
        if flow_name is not None:
            where.append("flow_name = ?")
            params.append(flow_name)
        required = sorted(set(tags))
        if required:
            marks = ", ".join("?" * len(required))
            where.append(
                f"id IN (SELECT run_id FROM run_tags WHERE tag IN ({marks}) "
                "GROUP BY run_id HAVING count(*) = ?)"
            )
            params.extend([*required, len(required)])
        sql = (
            "SELECT id, flow_name, user, status, created_at, finished_at, code_hash, "
            "origin_run_id, runner_host, runner_pid, heartbeat_at FROM runs"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self._connect() as conn:
            rows = conn.execute(sql, params).fetchall()
            ids = [row["id"] for row in rows]
            parameters = _parameters_of(conn, ids)
            user_tags, system_tags = _tags_of(conn, ids)
        return [
            RunRecord(
                flow_name=row["flow_name"],
                run_id=str(row["id"]),
                user=row["user"],
                status=RunStatus(row["status"]),
                created_at=_timestamp(row["created_at"]),
                finished_at=_timestamp(row["finished_at"]),
                code_hash=row["code_hash"],
                origin_run_id=None if row["origin_run_id"] is None else str(row["origin_run_id"]),
                parameters=parameters.get(row["id"], {}),
                tags=frozenset(user_tags.get(row["id"], ())),
                system_tags=frozenset(system_tags.get(row["id"], ())),
                runner_host=row["runner_host"],
                runner_pid=row["runner_pid"],
                heartbeat_at=_timestamp(row["heartbeat_at"]),
            )
            for row in rows
        ]


def _batches(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), _BATCH):
        yield ids[start : start + _BATCH]


def _parameters_of(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    for batch in _batches(ids):
        marks = ", ".join("?" * len(batch))
        sql = f"SELECT run_id, name, value FROM run_parameters WHERE run_id IN ({marks})"
        for run_pk, name, value in conn.execute(sql, list(batch)):
            found.setdefault(run_pk, {})[name] = json.loads(value)
    return found


def _tags_of(
    conn: sqlite3.Connection, ids: Sequence[int]
) -> tuple[dict[int, set[str]], dict[int, set[str]]]:
    user: dict[int, set[str]] = {}
    system: dict[int, set[str]] = {}
    for batch in _batches(ids):
        marks = ", ".join("?" * len(batch))
        sql = f"SELECT run_id, tag, is_system FROM run_tags WHERE run_id IN ({marks})"
        for run_pk, tag, is_system in conn.execute(sql, list(batch)):
            (system if is_system else user).setdefault(run_pk, set()).add(tag)
    return user, system


@overload
def _timestamp(value: str) -> datetime: ...
@overload
def _timestamp(value: None) -> None: ...
def _timestamp(value: str | None) -> datetime | None:
    # The store keeps UTC wall time without an offset in SQLite (see metadata.models).
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
