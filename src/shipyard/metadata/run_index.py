"""`SQLiteRunIndex`: the `RunLister` of a local SQLite metadata database, without SQLAlchemy.

Why this exists: importing SQLAlchemy takes about 0.2 s, two thirds of the 0.3 s that
`shipyard runs` may take from start to answer. Listing needs two read-only queries, which the
standard library's `sqlite3` runs in a millisecond. So for the embedded default (a SQLite
file) listings read the database directly; everything else goes through `open_metadata`.

The queries depend on the schema in `models.py` and its migrations. They are used only when the
database is at `HEAD_REVISION`, the schema the SQL backend itself writes; for an older revision
(which the SQL backend migrates when it opens the database), a newer one (which it refuses),
a database that does not exist yet (it creates it), PostgreSQL, or an unusual SQLite URL,
`open_run_index` returns None and the caller opens the backend instead. A read-only file (a
read-only copy of a store) is read without writing a byte beside it, and a damaged one raises
`MetadataDamaged`, as with the backend (`sqlite_files`). Tests in
`tests/metadata/test_run_index.py` check that at the head revision the index is the one used
and that its answers equal the SQL backend's, so a migration that breaks these queries fails
a test instead of silently making `shipyard runs` slow.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, overload

from shipyard.metadata.contract import RunLister
from shipyard.metadata.errors import MetadataDamaged
from shipyard.metadata.migrations import HEAD_REVISION
from shipyard.metadata.records import RunRecord, RunStatus
from shipyard.metadata.rules import tag_set
from shipyard.metadata.sql.ids import run_cursor
from shipyard.metadata.sqlite_files import damaged, is_damage, is_read_only, read_only_uri
from shipyard.metadata.urls import sqlite_file

__all__ = ["SQLiteRunIndex", "open_run_index"]

# SQLite limits bound parameters per statement; ids are looked up in batches below that.
_BATCH = 500
_BUSY_TIMEOUT_S = 30.0


def open_run_index(metadata_url: str) -> SQLiteRunIndex | None:
    """A direct reader for `metadata_url`, or None when the backend must be opened instead."""
    path = sqlite_file(metadata_url)
    if path is None or not path.is_file():
        return None
    index = SQLiteRunIndex(path)
    try:
        revision = index.revision()
    except (sqlite3.Error, MetadataDamaged):
        return None  # not a Shipyard database, or damaged: let the backend explain
    return index if revision == HEAD_REVISION else None


class SQLiteRunIndex(RunLister):
    """Read-only listing queries on a SQLite metadata database at `HEAD_REVISION`.

    Each call opens its own connection: that costs well under a millisecond, and makes the
    index safe to share between threads and across `os.fork()`.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def __repr__(self) -> str:
        return f"SQLiteRunIndex({str(self.path)!r})"

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if is_read_only(self.path):
            uri = read_only_uri(self.path)
        else:
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
        try:
            with closing(sqlite3.connect(uri, uri=True, timeout=_BUSY_TIMEOUT_S)) as conn:
                conn.row_factory = sqlite3.Row
                # One transaction, so that the queries of one call see one committed state.
                conn.isolation_level = None
                conn.execute("BEGIN")
                try:
                    yield conn
                finally:
                    conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if is_damage(exc):
                raise damaged(self.path, exc) from exc
            raise

    def revision(self) -> str | None:
        with self._connect() as conn:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return None if row is None else str(row[0])

    def list_flows(self) -> list[str]:
        """Names of all flows that have ever run, alphabetically."""
        with self._connect() as conn:
            return [row[0] for row in conn.execute("SELECT name FROM flows ORDER BY name")]

    def list_runs(
        self,
        flow_name: str | None = None,
        *,
        tags: Iterable[str] = (),
        limit: int | None = None,
        after: str | None = None,
    ) -> list[RunRecord]:
        """Runs newest first, of one flow or of all, having every one of `tags`, older than
        run `after` if given."""
        where: list[str] = []
        params: list[Any] = []
        if flow_name is not None:
            where.append("flow_name = ?")
            params.append(flow_name)
        required = sorted(tag_set(tags))
        if required:
            marks = ", ".join("?" * len(required))
            where.append(
                f"id IN (SELECT run_id FROM run_tags WHERE tag IN ({marks}) "
                "GROUP BY run_id HAVING count(*) = ?)"
            )
            params.extend([*required, len(required)])
        if after is not None:
            where.append("id < ?")
            params.append(run_cursor(after))
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
    # The SQL backend keeps UTC wall time without an offset in SQLite (see metadata.models).
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
