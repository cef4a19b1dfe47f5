"""One SQL database of the SQL backend: engine set-up, SQLite pragmas, transactions, schema.

`Database` is what the SQL backend's run records and domain stores share: one SQLAlchemy
engine (SQLite in WAL mode by default, PostgreSQL by URL), write and read transactions with
the same guarantees for all of them, the fork check, and the schema brought to
`HEAD_REVISION` on opening. It never leaves the `metadata.sql` package.

Start-up is on the path of every CLI command, so opening a database that is already at the
newest schema costs one `SELECT` and never imports alembic.

A database that cannot be used raises a `MetadataUnavailable` (a bad URL, a server that does
not answer, a full disk), `MetadataDamaged` (a damaged SQLite file) or `MetadataNotFound` (no
database yet, and the caller did not ask for one), never the driver's own error. A local
SQLite file that is read-only (see `sqlite_files.is_read_only`) is opened without writing a
byte to it or beside it, so a read-only copy of a store can be inspected.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    IntegrityError,
    NoSuchModuleError,
    OperationalError,
    ProgrammingError,
)

from shipyard.config import STORE_DIR
from shipyard.exceptions import ShipyardError
from shipyard.metadata.errors import (
    MetadataIntegrityError,
    MetadataNotFound,
    MetadataUnavailable,
)
from shipyard.metadata.migrations import HEAD_REVISION
from shipyard.metadata.sqlite_files import damaged, is_damage, is_read_only, read_only_options

__all__ = ["Database"]

_SQLITE_BUSY_TIMEOUT_MS = 30_000
# Any fixed 64-bit key: ASCII "SHIPYARD". Serializes first-time schema creation on PostgreSQL.
_PG_MIGRATION_LOCK_KEY = 0x5348_4950_5941_5244
# Execution option marking a connection whose transaction will write (see _begin_sqlite).
_WRITE_OPTION = "shipyard_write"
# How SQLite says that a table (here: the schema's version table) does not exist yet.
_NO_TABLE = "no such table"


class Database:
    """An SQL database given by SQLAlchemy URL, at the newest schema once opened.

    Opening brings the schema to the newest revision, so a fresh URL just works (unless
    `create` is false: then a database that does not exist yet, or an empty one, raises
    `MetadataNotFound`); two processes opening a new database at the same time both succeed.
    Thread-safe (each transaction takes its own pooled connection), NOT fork-safe: pooled
    connections must not be shared between processes, so a transaction begun in a process
    created by `os.fork()` raises `ShipyardError`.
    """

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.url = _parse(url)
        self._pid = os.getpid()
        self._file = _sqlite_file(self.url)
        self.read_only = False
        """Whether the database is a read-only SQLite file, opened without writing to it."""
        if self._file is not None:
            if not create and _is_missing_or_empty(self._file):
                where = self._file.expanduser().resolve()
                raise MetadataNotFound(
                    f"no Shipyard store at {where.parent}: there is no metadata database at "
                    f"{where} (a read never creates one). No run was recorded there yet, or "
                    "SHIPYARD_METADATA (or SHIPYARD_DATASTORE) names another place than the "
                    f"runs were recorded in; without them the store is the first {STORE_DIR} "
                    f"folder in the current folder ({Path.cwd()}) or its parents"
                )
            self.read_only = self._file.exists() and is_read_only(self._file)
        self._engine = _create_engine(self.url, self._file if self.read_only else None)
        self.dialect: str = self._engine.dialect.name
        """"sqlite" or "postgresql": the statements differ in a few places (upserts, locks)."""
        try:
            self._ensure_schema(create)
        except BaseException:
            self._engine.dispose()
            raise

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"

    @property
    def _name(self) -> str:
        """The database as messages name it: its file, or its URL without the password."""
        return str(self._file or self.url.render_as_string(hide_password=True))

    def close(self) -> None:
        """Close every pooled connection; SQLite then checkpoints its WAL into the main file.

        In a forked child the pooled connections are the parent's: they are dropped without
        being closed, since closing them from here would disturb the parent's sessions.
        """
        self._engine.dispose(close=os.getpid() == self._pid)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (BEGIN IMMEDIATE on SQLite), committed when the block ends.

        A broken schema rule becomes `MetadataIntegrityError`, after the rollback.
        """
        try:
            with self._translated(), self._connect() as conn:
                conn.execution_options(**{_WRITE_OPTION: True})
                with conn.begin():
                    yield conn
        except IntegrityError as exc:
            raise MetadataIntegrityError(
                f"the metadata database refused a write: {exc.orig}; nothing of it was recorded"
            ) from exc

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction seeing one committed state (a snapshot on both dialects)."""
        # A transaction even for reads, so that the several queries of one call (a run, then
        # its tags) see one committed state: SQLite's read transactions are snapshots already,
        # PostgreSQL's default READ COMMITTED is not.
        with self._translated(), self._connect() as conn, conn.begin():
            if self.dialect == "postgresql":
                conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield conn

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """Driver errors that say the database cannot be used, as `MetadataUnavailable`s.

        A mistake of ours in a query (`ProgrammingError`) and a broken schema rule
        (`IntegrityError`, see `write`) pass through as they are.
        """
        try:
            yield
        except (IntegrityError, ProgrammingError):
            raise
        except DBAPIError as exc:
            if is_damage(exc.orig):
                raise damaged(self._name, exc.orig) from exc
            if not isinstance(exc, OperationalError):
                raise
            raise MetadataUnavailable(
                f"cannot use the metadata database {self._name}: {exc.orig}. Check "
                "SHIPYARD_METADATA, that the database (or its server) can be reached, and "
                "that its disk has space and can be written."
            ) from exc

    def _connect(self) -> Connection:
        if os.getpid() != self._pid:
            raise ShipyardError(
                "this metadata backend was opened before os.fork(); its connections belong to "
                "the parent process. Call open_metadata() again in the child process."
            )
        return self._engine.connect()

    def _ensure_schema(self, create: bool) -> None:
        """Migrate to `HEAD_REVISION` unless the database is there already (the common case)."""
        revision = self._current_revision()
        if revision == HEAD_REVISION:
            return
        if revision is None and not create:
            raise MetadataNotFound(
                f"the metadata database {self._name} is empty: no run was recorded there yet"
            )
        if self.read_only:
            raise MetadataUnavailable(
                f"the metadata database {self._name} is read-only and at schema revision "
                f"{revision}, not {HEAD_REVISION} as this version of Shipyard needs: open a "
                "writable copy of it once to upgrade it"
            )
        # Imported here: loading the migrations pulls in alembic, which the fast path avoids.
        from shipyard.metadata.migrations import upgrade_to_head

        with self.write() as conn:
            # SQLite's write transaction is BEGIN IMMEDIATE and thus already exclusive among
            # writers; PostgreSQL needs a lock so that two first-time creators do not collide.
            if self.dialect == "postgresql":
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK_KEY}
                )
            # Another process may have migrated while we waited for the lock.
            if _revision_in(conn) != HEAD_REVISION:
                upgrade_to_head(conn)

    def _current_revision(self) -> str | None:
        """The schema revision, or None where there is no schema yet."""
        try:
            with self._translated(), self._connect() as conn:
                return conn.scalar(text("SELECT version_num FROM alembic_version"))
        except ProgrammingError:
            return None  # PostgreSQL: no version table yet
        except MetadataUnavailable as exc:
            if _NO_TABLE in str(exc.__cause__):
                return None  # SQLite: no version table yet
            raise


def _parse(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError as exc:
        raise MetadataUnavailable(
            f"SHIPYARD_METADATA={url!r} is not a database URL: use sqlite:///PATH or "
            "postgresql://USER@HOST/DATABASE"
        ) from exc


def _sqlite_file(url: URL) -> Path | None:
    """The local file of an SQLite URL naming a plain path; None for anything else (another
    database, an in-memory one, a `file:` URI whose options SQLite interprets)."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        return None
    return Path(database).expanduser()


def _is_missing_or_empty(path: Path) -> bool:
    try:
        return path.stat().st_size == 0
    except FileNotFoundError:
        return True


def _create_engine(url: URL, read_only_file: Path | None) -> Engine:
    """The engine for `url`; for `read_only_file`, one that opens that file read-only."""
    try:
        backend = url.get_backend_name()
        if backend == "sqlite":
            return _create_sqlite_engine(url, read_only_file)
        if backend == "postgresql":
            # Pre-ping survives a database restart under a long-lived scheduler.
            return create_engine(url, pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:  # e.g. a driver missing
        raise MetadataUnavailable(
            f"cannot open the metadata database {url.render_as_string(hide_password=True)!r}: {exc}"
        ) from exc
    raise MetadataUnavailable(
        f"unsupported metadata database {url.render_as_string(hide_password=True)!r}: "
        f"use an sqlite:/// or postgresql:// URL (SHIPYARD_METADATA)"
    )


def _create_sqlite_engine(url: URL, read_only_file: Path | None) -> Engine:
    timeout = {"timeout": _SQLITE_BUSY_TIMEOUT_MS / 1000}
    if read_only_file is not None:
        options = {**read_only_options(read_only_file), "uri": "true"}
        uri = read_only_file.resolve().as_uri()
        engine = create_engine(
            URL.create("sqlite", database=uri, query=options), connect_args=timeout
        )
        event.listen(engine, "connect", _configure_sqlite)
    else:
        _create_sqlite_parent_dir(url)
        engine = create_engine(url, connect_args=timeout)
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "connect", _use_wal)
    event.listen(engine, "begin", _begin_sqlite)
    return engine


def _create_sqlite_parent_dir(url: URL) -> None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(dbapi_connection: Any, _connection_record: Any) -> None:
    """Per-connection SQLite settings, for read-only connections too."""
    # Take BEGIN away from the sqlite3 module, which would emit it lazily before the first
    # write only: reads would then see no consistent snapshot and writes could not be IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # First, so that the journal-mode switch (_use_wal) also waits for a concurrent creator.
        cursor.execute(f"PRAGMA busy_timeout = {_SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _use_wal(dbapi_connection: Any, _connection_record: Any) -> None:
    """Journal mode WAL (it persists in the file once set) and its durability setting: for
    connections that may write."""
    cursor = dbapi_connection.cursor()
    try:
        _switch_to_wal(cursor)
        # Durable across process crashes; a power cut may lose the last commits, never corrupt.
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _switch_to_wal(cursor: Any) -> None:
    """Set WAL unless the file has it already, waiting out other processes doing the same.

    Two processes opening a new database at once both try to switch it; SQLite answers one of
    them "database is locked" at once, without waiting for busy_timeout (both hold a shared
    lock and want an exclusive one: waiting could deadlock). The other switches the file, so
    asking again after a moment finds WAL set.
    """
    deadline = time.monotonic() + _SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        (mode,) = cursor.execute("PRAGMA journal_mode").fetchall()[0]
        if mode.lower() in ("wal", "memory"):  # in-memory databases cannot use WAL
            return
        try:
            cursor.execute("PRAGMA journal_mode = WAL").fetchall()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _begin_sqlite(conn: Connection) -> None:
    """Open write transactions with BEGIN IMMEDIATE, read transactions with plain BEGIN.

    IMMEDIATE takes the write lock up front, so a writer waits its turn (busy_timeout) instead
    of failing with "database is locked" when its read snapshot turns out to be outdated.
    """
    immediate = conn.get_execution_options().get(_WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _revision_in(conn: Connection) -> str | None:
    """The schema revision, read without failing (a failed query would abort a PG transaction)."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.scalar(text("SELECT version_num FROM alembic_version"))
