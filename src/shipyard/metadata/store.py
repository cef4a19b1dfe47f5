"""The metadata store: every write and read of flows, runs, tasks, attempts, artifacts and tags.

One `MetadataStore` wraps one SQLAlchemy engine: SQLite (the embedded default, in WAL mode so
that readers never block the writer) or PostgreSQL (by URL, for teams and scale-out). Each write
method is one short transaction, so that what a reader sees is always a state some writer
committed: in particular a task's artifacts appear together with its final status or not at
all. Reads return the frozen records of `records.py`; ORM objects never leave this module.

Start-up is on the path of every CLI command, so opening a store that is already at the newest
schema costs one `SELECT` and never imports alembic.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from sqlalchemy import (
    URL,
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Connection,
    Delete,
    Engine,
    Insert,
    Row,
    Select,
    Table,
    Update,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    make_url,
    select,
    text,
    union,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.sql.dml import ReturningInsert

from shipyard.datastore.refs import ArtifactRef
from shipyard.exceptions import ObjectNotFound, ParameterError, ShipyardError
from shipyard.metadata.migrations import HEAD_REVISION
from shipyard.metadata.models import (
    Artifact,
    Attempt,
    Base,
    Flow,
    ModelVersion,
    Run,
    RunParameter,
    RunTag,
    Task,
)
from shipyard.metadata.records import (
    ArtifactRecord,
    AttemptRecord,
    ForeachFrame,
    RunRecord,
    RunStatus,
    TaskRecord,
    TaskStatus,
)

__all__ = ["HEAD_REVISION", "SYSTEM_TAG_PREFIXES", "MetadataStore"]

SYSTEM_TAG_PREFIXES = ("user:", "flow:")
"""Tags starting with these are set by Shipyard; users may neither add nor remove them, because
namespaces and filters trust `user:<name>` to say who really started a run."""

_SQLITE_BUSY_TIMEOUT_MS = 30_000
# Any fixed 64-bit key: ASCII "SHIPYARD". Serializes first-time schema creation on PostgreSQL.
_PG_MIGRATION_LOCK_KEY = 0x5348_4950_5941_5244
# Execution option marking a connection whose transaction will write (see _begin_sqlite).
_WRITE_OPTION = "shipyard_write"
_NO_PARAMETERS: Mapping[str, Any] = MappingProxyType({})
# Entries a store keeps in each of its id caches before starting that cache afresh.
_CACHE_LIMIT = 4096

_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")


class MetadataStore:
    """Runs, tasks, attempts, artifacts and tags in an SQL database given by SQLAlchemy URL.

    Opening a store brings its schema to the newest revision, so a fresh URL just works; two
    processes opening a new database at the same time both succeed. The store is thread-safe
    (each call takes its own pooled connection). It is NOT fork-safe: pooled connections must
    not be shared between processes, so a process created by `os.fork()` has to open its own
    store after the fork; using one inherited from the parent raises `ShipyardError`.
    """

    def __init__(self, url: str) -> None:
        self._url = make_url(url)
        self._pid = os.getpid()
        self._engine = _create_engine(self._url)
        self._dialect = self._engine.dialect.name
        # Ids stay valid once known, since runs never move between flows and no run or task is
        # ever deleted (whatever comes to delete them must drop them here too); a scheduler
        # then need not look them up again on every call.
        # Runs known to belong to a flow, by (flow_name, run_id):
        self._run_pks: dict[tuple[str, str], int] = {}
        # Tasks whose start_task committed, by (flow_name, run_id, step_name, task_id), for the
        # finish_task that follows:
        self._started_task_pks: dict[tuple[str, str, str, str], int] = {}
        try:
            self._ensure_schema()
        except BaseException:
            self._engine.dispose()
            raise

    def __repr__(self) -> str:
        return f"MetadataStore({self._url.render_as_string(hide_password=True)!r})"

    def __enter__(self) -> MetadataStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @cached_property
    def _statements(self) -> _Statements:
        # Built on first use: commands that only read need not pay for the write statements.
        return _Statements.build(self._dialect)

    def close(self) -> None:
        """Close every pooled connection; SQLite then checkpoints its WAL into the main file.

        In a forked child the pooled connections are the parent's: they are dropped without
        being closed, since closing them from here would disturb the parent's sessions.
        """
        self._engine.dispose(close=os.getpid() == self._pid)

    # ----------------------------------------------------------------------------- writes

    def create_run(
        self,
        flow_name: str,
        user: str,
        *,
        tags: Iterable[str] = (),
        parameters: Mapping[str, Any] = _NO_PARAMETERS,
        code_hash: str | None = None,
        origin_run_id: str | None = None,
        runner_host: str | None = None,
        runner_pid: int | None = None,
    ) -> str:
        """Record a new running run of `flow_name` and return its run_id.

        Besides the user's `tags` the run gets the system tags `user:<user>` and
        `flow:<flow_name>`. `origin_run_id` names the run a resume continues, which must be a
        run of the same flow. `parameters` must be JSON-serializable.
        """
        user_tags = _validated_user_tags(tags)
        _check_json_parameters(parameters)
        now = _now()
        statements = self._statements
        with self._write() as conn:
            origin_pk = None
            if origin_run_id is not None:
                origin_pk = self._run_pk(conn, flow_name, origin_run_id)
            conn.execute(statements.insert_flow, {"name": flow_name, "created_at": now})
            run_pk = conn.execute(
                statements.insert_run,
                {
                    "flow_name": flow_name,
                    "user": user,
                    "status": RunStatus.RUNNING,
                    "created_at": now,
                    "finished_at": None,
                    "code_hash": code_hash,
                    "origin_run_id": origin_pk,
                    "runner_host": runner_host,
                    "runner_pid": runner_pid,
                    "heartbeat_at": now,
                },
            ).scalar_one()
            system_tags = {f"user:{user}", f"flow:{flow_name}"}
            conn.execute(
                statements.insert_run_tags,
                [{"run_id": run_pk, "tag": t, "is_system": True} for t in sorted(system_tags)]
                + [{"run_id": run_pk, "tag": t, "is_system": False} for t in sorted(user_tags)],
            )
            if parameters:
                conn.execute(
                    statements.insert_run_parameters,
                    [{"run_id": run_pk, "name": k, "value": v} for k, v in parameters.items()],
                )
        run_id = str(run_pk)
        # Only once committed: the id of a rolled-back run names no run.
        _remember(self._run_pks, (flow_name, run_id), run_pk)
        return run_id

    def set_code_hash(self, flow_name: str, run_id: str, code_hash: str) -> None:
        """Attach the hash of the run's code snapshot, known only once the snapshot is stored."""
        with self._write() as conn:
            run_pk = self._run_pk(conn, flow_name, run_id)
            conn.execute(update(Run).where(Run.id == run_pk).values(code_hash=code_hash))

    def start_task(
        self,
        flow_name: str,
        run_id: str,
        step_name: str,
        task_id: str,
        *,
        attempt: int,
        foreach_stack: Sequence[ForeachFrame],
        input_paths: Sequence[str],
        resources: Mapping[str, float] | None = None,
    ) -> None:
        """Mark a task running and record the start of its attempt number `attempt`.

        The first attempt creates the task; a retry reuses it (keeping its creation time), so a
        task's id and position never change however often it is retried.
        """
        now = _now()
        statements = self._statements
        with self._write() as conn:
            run_pk = self._run_pk(conn, flow_name, run_id)
            task_pk = conn.execute(
                statements.upsert_task,
                {
                    "run_id": run_pk,
                    "step_name": step_name,
                    "task_id": task_id,
                    "status": TaskStatus.RUNNING,
                    "created_at": now,
                    "finished_at": None,
                    "foreach_stack": [frame.to_json() for frame in foreach_stack],
                    "input_paths": list(input_paths),
                    "resources": dict(resources) if resources is not None else None,
                },
            ).scalar_one()
            try:
                conn.execute(
                    statements.insert_attempt,
                    {
                        "task_pk": task_pk,
                        "attempt": attempt,
                        "status": TaskStatus.RUNNING,
                        "started_at": now,
                    },
                )
            except IntegrityError as exc:
                pathspec = f"{flow_name}/{run_id}/{step_name}/{task_id}"
                raise ShipyardError(
                    f"attempt {attempt} of task '{pathspec}' was already started; "
                    "a retry must use the next attempt number"
                ) from exc
        # Only once committed: the id of a rolled-back insert names no task.
        _remember(self._started_task_pks, (flow_name, run_id, step_name, task_id), task_pk)

    def finish_task(
        self,
        flow_name: str,
        run_id: str,
        step_name: str,
        task_id: str,
        *,
        attempt: int,
        status: TaskStatus,
        artifacts: Mapping[str, ArtifactRef],
        stdout_hash: str | None,
        stderr_hash: str | None,
        exit_code: int | None,
        error: str | None,
        host: str | None = None,
    ) -> None:
        """Record how an attempt ended and, if it succeeded, the task's artifacts.

        All of it is one transaction: a reader sees either the running task without artifacts
        or the finished task with all of them, never a mix, even if this process dies halfway.
        On success `artifacts` replaces whatever artifacts the task had; on failure the
        task's artifacts are left alone.
        """
        if status not in (TaskStatus.SUCCEEDED, TaskStatus.FAILED):
            raise ShipyardError(f"a task finishes as succeeded or failed, not {status.value}")
        now = _now()
        statements = self._statements
        # Taken out, not just read: one finish follows each start, and a retry's start_task
        # remembers the task again.
        task_pk = self._started_task_pks.pop((flow_name, run_id, step_name, task_id), None)
        with self._write() as conn:
            if task_pk is None:
                task_pk = self._task_pk(conn, flow_name, run_id, step_name, task_id)
            updated = conn.execute(
                statements.finish_attempt,
                {
                    "key_task_pk": task_pk,
                    "key_attempt": attempt,
                    "status": status,
                    "finished_at": now,
                    "stdout_hash": stdout_hash,
                    "stderr_hash": stderr_hash,
                    "exit_code": exit_code,
                    "error": error,
                    "host": host,
                },
            )
            if updated.rowcount == 0:
                pathspec = f"{flow_name}/{run_id}/{step_name}/{task_id}"
                raise ObjectNotFound(
                    f"attempt {attempt} of task '{pathspec}' was never started; "
                    "call start_task before finish_task"
                )
            conn.execute(
                statements.finish_task,
                {"key_task_pk": task_pk, "status": status, "finished_at": now},
            )
            if status is TaskStatus.SUCCEEDED:
                conn.execute(statements.delete_artifacts, {"key_task_pk": task_pk})
                self._insert_artifacts(conn, task_pk, attempt, artifacts)

    def clone_task(
        self,
        flow_name: str,
        run_id: str,
        step_name: str,
        task_id: str,
        *,
        origin: TaskRecord,
        artifacts: Mapping[str, ArtifactRef],
        foreach_stack: Sequence[ForeachFrame],
        input_paths: Sequence[str],
    ) -> None:
        """Record a task that `resume` reused from an earlier run instead of running it again.

        The clone is a succeeded task with `origin_pathspec` pointing at `origin` and a single
        attempt 0, timed now, that carries the log hashes and exit code of the origin's last
        attempt, so the clone's logs read the same as the original's.
        """
        if origin.status is not TaskStatus.SUCCEEDED:
            raise ShipyardError(
                f"cannot clone task '{origin.pathspec}': it {origin.status.value}, "
                "only succeeded tasks can be reused"
            )
        last = origin.attempts[-1] if origin.attempts else None
        now = _now()
        statements = self._statements
        with self._write() as conn:
            run_pk = self._run_pk(conn, flow_name, run_id)
            try:
                task_pk = conn.execute(
                    statements.insert_task,
                    {
                        "run_id": run_pk,
                        "step_name": step_name,
                        "task_id": task_id,
                        "status": TaskStatus.SUCCEEDED,
                        "created_at": now,
                        "finished_at": now,
                        "foreach_stack": [frame.to_json() for frame in foreach_stack],
                        "input_paths": list(input_paths),
                        "origin_pathspec": origin.pathspec,
                    },
                ).scalar_one()
            except IntegrityError as exc:
                raise ShipyardError(
                    f"task '{flow_name}/{run_id}/{step_name}/{task_id}' already exists; "
                    "only a task that has not run can be cloned into"
                ) from exc
            conn.execute(
                statements.insert_attempt,
                {
                    "task_pk": task_pk,
                    "attempt": 0,
                    "status": TaskStatus.SUCCEEDED,
                    "started_at": now,
                    "finished_at": now,
                    "stdout_hash": last.stdout_hash if last else None,
                    "stderr_hash": last.stderr_hash if last else None,
                    "exit_code": last.exit_code if last else None,
                    "error": None,
                },
            )
            self._insert_artifacts(conn, task_pk, 0, artifacts)

    def beat(self, flow_name: str, run_id: str) -> None:
        """Note that the run's runner is alive now (see `metadata.liveness`)."""
        with self._write() as conn:
            run_pk = self._run_pk(conn, flow_name, run_id)
            conn.execute(update(Run).where(Run.id == run_pk).values(heartbeat_at=_now()))

    def finish_run(self, flow_name: str, run_id: str, status: RunStatus) -> None:
        """Set the run's final status (RUNNING reopens it, e.g. for resume, clearing the end)."""
        finished_at = None if status is RunStatus.RUNNING else _now()
        with self._write() as conn:
            run_pk = self._run_pk(conn, flow_name, run_id)
            conn.execute(
                update(Run).where(Run.id == run_pk).values(status=status, finished_at=finished_at)
            )

    def fail_running_tasks(self, flow_name: str, run_id: str, reason: str) -> int:
        """Mark every task and attempt of the run still `running` as failed; return how many tasks.

        Called when a worker died or the runner was killed, so that no task stays `running`
        forever; `reason` becomes the error of each attempt it ends.
        """
        now = _now()
        with self._write() as conn:
            run_pk = self._run_pk(conn, flow_name, run_id)
            tasks_of_run = select(Task.id).where(Task.run_id == run_pk)
            conn.execute(
                update(Attempt)
                .where(Attempt.task_pk.in_(tasks_of_run), Attempt.status == TaskStatus.RUNNING)
                .values(status=TaskStatus.FAILED, finished_at=now, error=reason)
            )
            failed = conn.execute(
                update(Task)
                .where(Task.run_id == run_pk, Task.status == TaskStatus.RUNNING)
                .values(status=TaskStatus.FAILED, finished_at=now)
            )
            return int(failed.rowcount)

    def add_tags(self, flow_name: str, run_id: str, tags: Iterable[str]) -> None:
        """Add user tags to a run; tags it already has are kept as they are."""
        user_tags = _validated_user_tags(tags)
        with self._write() as conn:
            run_pk = self._run_pk(conn, flow_name, run_id)
            if not user_tags:
                return
            rows = [{"run_id": run_pk, "tag": t, "is_system": False} for t in sorted(user_tags)]
            tag_insert = _dialect_insert(self._dialect, _table(RunTag)).on_conflict_do_nothing(
                index_elements=["run_id", "tag"]
            )
            conn.execute(tag_insert, rows)

    def remove_tags(self, flow_name: str, run_id: str, tags: Iterable[str]) -> None:
        """Remove user tags from a run; tags it does not have are ignored.

        Raises `ShipyardError`, removing nothing, if any of `tags` is a system tag.
        """
        wanted = _tag_set(tags)
        with self._write() as conn:
            run_pk = self._run_pk(conn, flow_name, run_id)
            stored_system = conn.scalars(
                select(RunTag.tag).where(
                    RunTag.run_id == run_pk, RunTag.is_system.is_(True), RunTag.tag.in_(wanted)
                )
            ).all()
            system = sorted(set(stored_system) | {t for t in wanted if _is_reserved(t)})
            if system:
                raise ShipyardError(
                    f"cannot remove {', '.join(repr(t) for t in system)} from run "
                    f"'{flow_name}/{run_id}': system tags are permanent; only user tags can be "
                    "removed"
                )
            if wanted:
                conn.execute(delete(RunTag).where(RunTag.run_id == run_pk, RunTag.tag.in_(wanted)))

    # ------------------------------------------------------------------------------ reads

    def list_flows(self) -> list[str]:
        """Names of all flows that have ever run, alphabetically."""
        with self._read() as conn:
            return list(conn.scalars(select(Flow.name).order_by(Flow.name)))

    def get_run(self, flow_name: str, run_id: str) -> RunRecord:
        """The run `flow_name/run_id`; raises `ObjectNotFound` saying how to find existing runs."""
        with self._read() as conn:
            run_pk = self._run_pk(conn, flow_name, run_id)
            return _load_runs(conn, select(Run.__table__).where(Run.id == run_pk))[0]

    def list_runs(
        self,
        flow_name: str | None = None,
        *,
        tags: Iterable[str] = (),
        limit: int | None = None,
    ) -> list[RunRecord]:
        """Runs newest first, of one flow or of all, having every one of `tags` (user or system)."""
        stmt = select(Run.__table__)
        if flow_name is not None:
            stmt = stmt.where(Run.flow_name == flow_name)
        required = _tag_set(tags)
        if required:
            # Each (run_id, tag) pair is unique, so counting matches means "has them all".
            tagged = (
                select(RunTag.run_id)
                .where(RunTag.tag.in_(required))
                .group_by(RunTag.run_id)
                .having(func.count() == len(required))
            )
            stmt = stmt.where(Run.id.in_(tagged))
        stmt = stmt.order_by(Run.id.desc()).limit(limit)
        with self._read() as conn:
            return _load_runs(conn, stmt)

    def list_steps(self, flow_name: str, run_id: str) -> list[str]:
        """Names of the run's steps that have tasks, in the order their first task started."""
        with self._read() as conn:
            run_pk = self._run_pk(conn, flow_name, run_id)
            return list(
                conn.scalars(
                    select(Task.step_name)
                    .where(Task.run_id == run_pk)
                    .group_by(Task.step_name)
                    .order_by(func.min(Task.id))
                )
            )

    def list_tasks(
        self, flow_name: str, run_id: str, step_name: str | None = None
    ) -> list[TaskRecord]:
        """The run's tasks (of one step, if given) in creation order, with their attempts."""
        with self._read() as conn:
            run_pk = self._run_pk(conn, flow_name, run_id)
            where = [Task.run_id == run_pk]
            if step_name is not None:
                where.append(Task.step_name == step_name)
            return _load_tasks(conn, flow_name, str(run_pk), where)

    def get_task(self, flow_name: str, run_id: str, step_name: str, task_id: str) -> TaskRecord:
        """One task with its attempts; raises `ObjectNotFound` if the run or task is unknown."""
        with self._read() as conn:
            task_pk = self._task_pk(conn, flow_name, run_id, step_name, task_id)
            # _task_pk succeeded, so run_id is a number; records carry its canonical form.
            canonical_run_id = str(int(run_id))
            return _load_tasks(conn, flow_name, canonical_run_id, [Task.id == task_pk])[0]

    def task_artifacts(
        self, flow_name: str, run_id: str, step_name: str, task_id: str
    ) -> dict[str, ArtifactRecord]:
        """The artifacts of one task by name (empty until the task has succeeded)."""
        with self._read() as conn:
            task_pk = self._task_pk(conn, flow_name, run_id, step_name, task_id)
            rows = conn.execute(select(Artifact.__table__).where(Artifact.task_pk == task_pk)).all()
        return {row.name: _artifact_record(row) for row in rows}

    def artifacts_of_run(
        self, flow_name: str, run_id: str
    ) -> dict[tuple[str, str], dict[str, ArtifactRecord]]:
        """All artifacts of a run keyed by (step_name, task_id), read in one query.

        Resume and bulk readers need every task's artifacts; one query instead of one per task
        keeps that fast for runs of thousands of tasks. Tasks without artifacts are absent.
        """
        with self._read() as conn:
            run_pk = self._run_pk(conn, flow_name, run_id)
            rows = conn.execute(
                select(Task.step_name, Task.task_id, Artifact.__table__)
                .join(Task, Task.id == Artifact.task_pk)
                .where(Task.run_id == run_pk)
            ).all()
        result: dict[tuple[str, str], dict[str, ArtifactRecord]] = defaultdict(dict)
        for row in rows:
            result[(row.step_name, row.task_id)][row.name] = _artifact_record(row)
        return dict(result)

    def referenced_hashes(self) -> set[str]:
        """Every blob hash the metadata points to: artifacts, logs, code and model payloads.

        The garbage collector deletes blobs not in this set, so it must be complete.
        """
        referenced: CompoundSelect[Any] = union(
            select(Artifact.sha256),
            select(Attempt.stdout_hash).where(Attempt.stdout_hash.is_not(None)),
            select(Attempt.stderr_hash).where(Attempt.stderr_hash.is_not(None)),
            select(Run.code_hash).where(Run.code_hash.is_not(None)),
            # Registered model payloads: a registry version must outlive the run it came from.
            select(ModelVersion.payload_sha256),
        )
        with self._read() as conn:
            return set(conn.scalars(referenced))

    # ------------------------------------------------ transactions for companion stores

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, for companion stores sharing this database (the registry)."""
        return self._engine

    @property
    def dialect(self) -> str:
        """The database's dialect name: "sqlite" or "postgresql"."""
        return self._dialect

    def write_transaction(self) -> AbstractContextManager[Connection]:
        """A write transaction as the store's own writes use it (BEGIN IMMEDIATE on SQLite).

        Companion stores (the model registry) write through this so that they get the same
        serialization and the same fork check without re-implementing them.
        """
        return self._write()

    def read_transaction(self) -> AbstractContextManager[Connection]:
        """A read transaction seeing one committed state (a snapshot on both dialects)."""
        return self._read()

    # ---------------------------------------------------------------------------- helpers

    def _ensure_schema(self) -> None:
        """Migrate to `HEAD_REVISION` unless the database is there already (the common case)."""
        if self._current_revision() == HEAD_REVISION:
            return
        # Imported here: loading the migrations pulls in alembic, which the fast path avoids.
        from shipyard.metadata.migrations import upgrade_to_head

        with self._write() as conn:
            # SQLite's write transaction is BEGIN IMMEDIATE and thus already exclusive among
            # writers; PostgreSQL needs a lock so that two first-time creators do not collide.
            if self._dialect == "postgresql":
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK_KEY}
                )
            # Another process may have migrated while we waited for the lock.
            if _revision_in(conn) != HEAD_REVISION:
                upgrade_to_head(conn)

    def _current_revision(self) -> str | None:
        try:
            with self._connect() as conn:
                return conn.scalar(text("SELECT version_num FROM alembic_version"))
        except (OperationalError, ProgrammingError):
            # No version table yet. Real problems (bad path, server down) recur and surface
            # from the migration attempt that follows.
            return None

    def _connect(self) -> Connection:
        if os.getpid() != self._pid:
            raise ShipyardError(
                "this MetadataStore was opened before os.fork(); its connections belong to the "
                "parent process. Open a new MetadataStore in the child process."
            )
        return self._engine.connect()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._connect() as conn:
            conn.execution_options(**{_WRITE_OPTION: True})
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        # A transaction even for reads, so that the several queries of one call (a run, then
        # its tags) see one committed state: SQLite's read transactions are snapshots already,
        # PostgreSQL's default READ COMMITTED is not.
        with self._connect() as conn, conn.begin():
            if self._dialect == "postgresql":
                conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield conn

    def _run_pk(self, conn: Connection, flow_name: str, run_id: str) -> int:
        """The primary key of run `run_id`, which must belong to `flow_name`."""
        known = self._run_pks.get((flow_name, run_id))
        if known is not None:
            return known
        run_pk = _parse_run_id(run_id)
        if run_pk is not None:
            owner = conn.scalar(self._statements.run_flow, {"key_run_pk": run_pk})
            if owner == flow_name:
                _remember(self._run_pks, (flow_name, run_id), run_pk)
                return run_pk
            if owner is not None:
                raise ObjectNotFound(
                    f"run '{flow_name}/{run_id}' does not exist: run {run_id} belongs to flow "
                    f"'{owner}'; use '{owner}/{run_id}'"
                )
        raise ObjectNotFound(
            f"run '{flow_name}/{run_id}' does not exist; list runs with `shipyard runs {flow_name}`"
        )

    def _task_pk(
        self, conn: Connection, flow_name: str, run_id: str, step_name: str, task_id: str
    ) -> int:
        """The primary key of a task, in one query when it exists."""
        run_pk = _parse_run_id(run_id)
        if run_pk is not None:
            task_pk = conn.scalar(
                self._statements.task_pk,
                {
                    "key_run_pk": run_pk,
                    "key_step_name": step_name,
                    "key_task_id": task_id,
                    "key_flow_name": flow_name,
                },
            )
            if task_pk is not None:
                return task_pk
        self._run_pk(conn, flow_name, run_id)  # raises if the run itself is the problem
        raise ObjectNotFound(
            f"task '{flow_name}/{run_id}/{step_name}/{task_id}' does not exist; "
            f"list the run's tasks with `shipyard tasks {flow_name}/{run_id}`"
        )

    def _insert_artifacts(
        self, conn: Connection, task_pk: int, attempt: int, artifacts: Mapping[str, ArtifactRef]
    ) -> None:
        if not artifacts:
            return
        # One executemany INSERT for all rows: tasks with many artifacts stay one round trip.
        conn.execute(
            self._statements.insert_artifacts,
            [
                {
                    "task_pk": task_pk,
                    "name": name,
                    "attempt": attempt,
                    "sha256": ref.sha256,
                    "type_name": ref.type_name,
                    "size": ref.size,
                    "encoding": ref.encoding,
                }
                for name, ref in artifacts.items()
            ],
        )


# ----------------------------------------------------------------------------- statements


@dataclass(frozen=True)
class _Statements:
    """The statements of the hot paths (creating runs, starting and finishing tasks, id look-ups).

    Each is built once per store. Building a statement costs SQLAlchemy several times what
    SQLite needs to run it: every value is coerced, ON CONFLICT makes its `excluded` columns
    anew, and a new statement object computes its cache key before its compiled SQL is found.
    These take all their values as bind parameters instead, so a call only executes them with
    a plain dict. They are built on the `Table`s, not the ORM classes, which would send every
    insert through the ORM's bulk persistence.

    WHERE parameters are named `key_<column>` because an UPDATE reserves the plain column
    names for its SET clause.
    """

    run_flow: Select[str]
    task_pk: Select[int]
    insert_flow: Insert
    insert_run: ReturningInsert[int]
    insert_run_tags: Insert
    insert_run_parameters: Insert
    upsert_task: ReturningInsert[int]
    insert_task: ReturningInsert[int]
    insert_attempt: Insert
    finish_attempt: Update
    finish_task: Update
    delete_artifacts: Delete
    insert_artifacts: Insert

    @classmethod
    def build(cls, dialect: str) -> _Statements:
        flows, runs, tasks = _table(Flow), _table(Run), _table(Task)
        attempts, artifacts = _table(Attempt), _table(Artifact)
        task_insert = _dialect_insert(dialect, tasks)
        # A retry's start reuses the task: it keeps its id and creation time.
        task_upsert = task_insert.on_conflict_do_update(
            index_elements=["run_id", "step_name", "task_id"],
            set_={
                column: task_insert.excluded[column]
                for column in ("status", "finished_at", "foreach_stack", "input_paths", "resources")
            },
        )
        return cls(
            run_flow=select(runs.c.flow_name).where(runs.c.id == bindparam("key_run_pk")),
            task_pk=select(tasks.c.id)
            .join(runs, runs.c.id == tasks.c.run_id)
            .where(
                tasks.c.run_id == bindparam("key_run_pk"),
                tasks.c.step_name == bindparam("key_step_name"),
                tasks.c.task_id == bindparam("key_task_id"),
                runs.c.flow_name == bindparam("key_flow_name"),
            ),
            insert_flow=_dialect_insert(dialect, flows).on_conflict_do_nothing(
                index_elements=["name"]
            ),
            insert_run=insert(runs).returning(runs.c.id),
            insert_run_tags=insert(_table(RunTag)),
            insert_run_parameters=insert(_table(RunParameter)),
            upsert_task=task_upsert.returning(tasks.c.id),
            insert_task=insert(tasks).returning(tasks.c.id),
            insert_attempt=insert(attempts),
            finish_attempt=update(attempts)
            .where(
                attempts.c.task_pk == bindparam("key_task_pk"),
                attempts.c.attempt == bindparam("key_attempt"),
            )
            .values(
                _bound_values(
                    "status",
                    "finished_at",
                    "stdout_hash",
                    "stderr_hash",
                    "exit_code",
                    "error",
                    "host",
                )
            ),
            finish_task=update(tasks)
            .where(tasks.c.id == bindparam("key_task_pk"))
            .values(_bound_values("status", "finished_at")),
            delete_artifacts=delete(artifacts).where(
                artifacts.c.task_pk == bindparam("key_task_pk")
            ),
            insert_artifacts=insert(artifacts),
        )


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)  # declared with __tablename__, so never a mere FromClause
    return table


def _bound_values(*columns: str) -> dict[str, BindParameter[Any]]:
    """Values for `columns` from the bind parameters of the same names (typed like the columns)."""
    return {column: bindparam(column) for column in columns}


def _dialect_insert(dialect: str, table: Table) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (alike on SQLite and PostgreSQL)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def _remember(cache: dict[_K, _V], key: _K, value: _V) -> None:
    """Add to one of the store's id caches, emptying it first when full.

    Keeps memory bounded in a long-lived process without bookkeeping per hit; a forgotten id
    costs only one look-up the next time it is needed.
    """
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value


# -------------------------------------------------------------------------- engine set-up


def _create_engine(url: URL) -> Engine:
    backend = url.get_backend_name()
    if backend == "sqlite":
        _create_sqlite_parent_dir(url)
        engine = create_engine(url, connect_args={"timeout": _SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    if backend == "postgresql":
        # Pre-ping survives a database restart under a long-lived scheduler.
        return create_engine(url, pool_pre_ping=True)
    raise ShipyardError(
        f"unsupported metadata database {url.render_as_string(hide_password=True)!r}: "
        f"use an sqlite:/// or postgresql:// URL (SHIPYARD_METADATA)"
    )


def _create_sqlite_parent_dir(url: URL) -> None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(dbapi_connection: Any, _connection_record: Any) -> None:
    """Per-connection SQLite settings; journal mode WAL persists in the file once set."""
    # Take BEGIN away from the sqlite3 module, which would emit it lazily before the first
    # write only: reads would then see no consistent snapshot and writes could not be IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # First, so that the journal-mode switch below also waits for a concurrent creator.
        cursor.execute(f"PRAGMA busy_timeout = {_SQLITE_BUSY_TIMEOUT_MS}")
        (mode,) = cursor.execute("PRAGMA journal_mode").fetchone()
        if mode.lower() not in ("wal", "memory"):  # in-memory databases cannot use WAL
            cursor.execute("PRAGMA journal_mode = WAL")
        # Durable across process crashes; a power cut may lose the last commits, never corrupt.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


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


# ------------------------------------------------------------------------ values and rows


def _now() -> datetime:
    return datetime.now(UTC)


def _parse_run_id(run_id: str) -> int | None:
    run_id = str(run_id)
    return int(run_id) if run_id.isascii() and run_id.isdigit() else None


def _is_reserved(tag: str) -> bool:
    return tag.startswith(SYSTEM_TAG_PREFIXES)


def _tag_set(tags: Iterable[str]) -> set[str]:
    if isinstance(tags, str):  # a lone string would otherwise become a set of characters
        raise TypeError(f"tags must be an iterable of strings, not the string {tags!r}")
    return set(tags)


def _validated_user_tags(tags: Iterable[str]) -> set[str]:
    user_tags = _tag_set(tags)
    for tag in sorted(user_tags):
        if not isinstance(tag, str) or not tag.strip():
            raise ShipyardError(f"invalid tag {tag!r}: a tag is a non-empty string")
        if _is_reserved(tag):
            raise ShipyardError(
                f"tag {tag!r} starts with a reserved prefix ({', '.join(SYSTEM_TAG_PREFIXES)}); "
                "those are system tags that Shipyard sets itself, so choose another tag"
            )
    return user_tags


def _check_json_parameters(parameters: Mapping[str, Any]) -> None:
    for name, value in parameters.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise ParameterError(
                f"parameter {name!r} cannot be recorded: its value {value!r} is not "
                f"JSON-serializable ({exc}); give the Parameter a JSON-compatible type"
            ) from exc


def _load_runs(conn: Connection, runs: Select[Any]) -> list[RunRecord]:
    """Records for the runs `runs` selects, in its order, with parameters and tags attached."""
    rows = conn.execute(runs).all()
    if not rows:
        return []
    # Parameters and tags for exactly these runs, by the same query rather than a long IN
    # list of ids (which SQLite caps at 32766 bound parameters).
    run_ids = runs.with_only_columns(Run.id)
    parameters: dict[int, dict[str, Any]] = defaultdict(dict)
    for run_pk, name, value in conn.execute(
        select(RunParameter.run_id, RunParameter.name, RunParameter.value).where(
            RunParameter.run_id.in_(run_ids)
        )
    ):
        parameters[run_pk][name] = value
    user_tags: dict[int, set[str]] = defaultdict(set)
    system_tags: dict[int, set[str]] = defaultdict(set)
    for run_pk, tag, is_system in conn.execute(
        select(RunTag.run_id, RunTag.tag, RunTag.is_system).where(RunTag.run_id.in_(run_ids))
    ):
        (system_tags if is_system else user_tags)[run_pk].add(tag)
    return [
        RunRecord(
            flow_name=row.flow_name,
            run_id=str(row.id),
            user=row.user,
            status=row.status,
            created_at=row.created_at,
            finished_at=row.finished_at,
            code_hash=row.code_hash,
            origin_run_id=None if row.origin_run_id is None else str(row.origin_run_id),
            parameters=dict(parameters.get(row.id, {})),
            tags=frozenset(user_tags.get(row.id, ())),
            system_tags=frozenset(system_tags.get(row.id, ())),
            runner_host=row.runner_host,
            runner_pid=row.runner_pid,
            heartbeat_at=row.heartbeat_at,
        )
        for row in rows
    ]


def _load_tasks(
    conn: Connection, flow_name: str, run_id: str, where: Sequence[ColumnElement[bool]]
) -> list[TaskRecord]:
    """Task records matching `where`, in creation order, each with all its attempts.

    Two queries in total (tasks, then their attempts) however many tasks match.
    """
    task_rows = conn.execute(select(Task.__table__).where(*where).order_by(Task.id)).all()
    attempts: dict[int, list[AttemptRecord]] = defaultdict(list)
    for row in conn.execute(
        select(Attempt.__table__)
        .join(Task, Task.id == Attempt.task_pk)
        .where(*where)
        .order_by(Attempt.task_pk, Attempt.attempt)
    ):
        attempts[row.task_pk].append(_attempt_record(row))
    return [
        TaskRecord(
            flow_name=flow_name,
            run_id=run_id,
            step_name=row.step_name,
            task_id=row.task_id,
            status=row.status,
            created_at=row.created_at,
            finished_at=row.finished_at,
            foreach_stack=tuple(ForeachFrame.from_json(f) for f in row.foreach_stack),
            input_paths=tuple(row.input_paths),
            attempts=tuple(attempts.get(row.id, ())),
            origin_pathspec=row.origin_pathspec,
            resources=row.resources,
        )
        for row in task_rows
    ]


def _attempt_record(row: Row[Any]) -> AttemptRecord:
    return AttemptRecord(
        attempt=row.attempt,
        status=row.status,
        started_at=row.started_at,
        finished_at=row.finished_at,
        stdout_hash=row.stdout_hash,
        stderr_hash=row.stderr_hash,
        exit_code=row.exit_code,
        error=row.error,
        host=row.host,
    )


def _artifact_record(row: Row[Any]) -> ArtifactRecord:
    ref = ArtifactRef(
        sha256=row.sha256, type_name=row.type_name, size=row.size, encoding=row.encoding
    )
    return ArtifactRecord(name=row.name, ref=ref, attempt=row.attempt)
