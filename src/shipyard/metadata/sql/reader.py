"""The SQL backend's `RunReader`: the reads of flows, runs, steps, tasks and artifacts, and the
mapping of their rows to the frozen records of `metadata.records`.

Every call is one read transaction, so its queries see one committed state; ORM objects and
rows never leave this module. Lists of tasks are paged by key (`limit`, `after`), so that a
page deep into a run of 100,000 tasks costs what the first page costs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Select, func, select

from shipyard.datastore.refs import ArtifactRef
from shipyard.exceptions import ShipyardError
from shipyard.metadata.contract import RunReader
from shipyard.metadata.models import Artifact, Attempt, Flow, Run, RunParameter, RunTag, Task
from shipyard.metadata.records import (
    ArtifactRecord,
    AttemptRecord,
    ForeachFrame,
    RunRecord,
    TaskRecord,
)
from shipyard.metadata.rules import tag_set
from shipyard.metadata.sql.ids import run_cursor
from shipyard.metadata.sql.keys import RunKeys

__all__ = ["SQLRunReader"]


class SQLRunReader(RunReader):
    """Reads runs and tasks from the database of `keys`."""

    def __init__(self, keys: RunKeys) -> None:
        self._keys = keys

    def list_flows(self) -> list[str]:
        """Names of all flows that have ever run, alphabetically."""
        with self._keys.database.read() as conn:
            return list(conn.scalars(select(Flow.name).order_by(Flow.name)))

    def get_run(self, flow_name: str, run_id: str) -> RunRecord:
        """The run `flow_name/run_id`; raises `ObjectNotFound` saying how to find existing runs."""
        with self._keys.database.read() as conn:
            run_pk = self._keys.run_pk(conn, flow_name, run_id)
            return _load_runs(conn, select(Run.__table__).where(Run.id == run_pk))[0]

    def list_runs(
        self,
        flow_name: str | None = None,
        *,
        tags: Iterable[str] = (),
        limit: int | None = None,
        after: str | None = None,
    ) -> list[RunRecord]:
        """Runs newest first, of one flow or of all, having every one of `tags` (user or system).

        `after` is the run_id of the last run of the previous page: the runs older than it.
        """
        stmt = select(Run.__table__)
        if flow_name is not None:
            stmt = stmt.where(Run.flow_name == flow_name)
        required = tag_set(tags)
        if required:
            # Each (run_id, tag) pair is unique, so counting matches means "has them all".
            tagged = (
                select(RunTag.run_id)
                .where(RunTag.tag.in_(required))
                .group_by(RunTag.run_id)
                .having(func.count() == len(required))
            )
            stmt = stmt.where(Run.id.in_(tagged))
        if after is not None:
            stmt = stmt.where(Run.id < run_cursor(after))
        stmt = stmt.order_by(Run.id.desc()).limit(limit)
        with self._keys.database.read() as conn:
            return _load_runs(conn, stmt)

    def list_steps(self, flow_name: str, run_id: str) -> list[str]:
        """Names of the run's steps that have tasks, in the order their first task started."""
        with self._keys.database.read() as conn:
            run_pk = self._keys.run_pk(conn, flow_name, run_id)
            return list(
                conn.scalars(
                    select(Task.step_name)
                    .where(Task.run_id == run_pk)
                    .group_by(Task.step_name)
                    .order_by(func.min(Task.id))
                )
            )

    def list_tasks(
        self,
        flow_name: str,
        run_id: str,
        step_name: str | None = None,
        *,
        limit: int | None = None,
        after: str | None = None,
    ) -> list[TaskRecord]:
        """The run's tasks (of one step, if given) in creation order, with their attempts.

        At most `limit` of them, those created after the task whose pathspec is `after` (the
        last task of the previous page).
        """
        with self._keys.database.read() as conn:
            run_pk = self._keys.run_pk(conn, flow_name, run_id)
            canonical_run_id = str(run_pk)
            where = [Task.run_id == run_pk]
            if step_name is not None:
                where.append(Task.step_name == step_name)
            if after is not None:
                where.append(Task.id > self._task_cursor(conn, flow_name, canonical_run_id, after))
            return _load_tasks(conn, flow_name, canonical_run_id, where, limit)

    def get_task(self, flow_name: str, run_id: str, step_name: str, task_id: str) -> TaskRecord:
        """One task with its attempts; raises `ObjectNotFound` if the run or task is unknown."""
        with self._keys.database.read() as conn:
            task_pk = self._keys.task_pk(conn, flow_name, run_id, step_name, task_id)
            # task_pk succeeded, so run_id is a number; records carry its canonical form.
            canonical_run_id = str(int(run_id))
            return _load_tasks(conn, flow_name, canonical_run_id, [Task.id == task_pk])[0]

    def task_artifacts(
        self, flow_name: str, run_id: str, step_name: str, task_id: str
    ) -> dict[str, ArtifactRecord]:
        """The artifacts of one task by name (empty until the task has succeeded)."""
        with self._keys.database.read() as conn:
            task_pk = self._keys.task_pk(conn, flow_name, run_id, step_name, task_id)
            rows = conn.execute(select(Artifact.__table__).where(Artifact.task_pk == task_pk)).all()
        return {row.name: _artifact_record(row) for row in rows}

    def artifacts_of_run(
        self, flow_name: str, run_id: str
    ) -> dict[tuple[str, str], dict[str, ArtifactRecord]]:
        """All artifacts of a run keyed by (step_name, task_id), read in one query.

        Resume and bulk readers need every task's artifacts; one query instead of one per task
        keeps that fast for runs of thousands of tasks. Tasks without artifacts are absent.
        """
        with self._keys.database.read() as conn:
            run_pk = self._keys.run_pk(conn, flow_name, run_id)
            rows = conn.execute(
                select(Task.step_name, Task.task_id, Artifact.__table__)
                .join(Task, Task.id == Artifact.task_pk)
                .where(Task.run_id == run_pk)
            ).all()
        result: dict[tuple[str, str], dict[str, ArtifactRecord]] = defaultdict(dict)
        for row in rows:
            result[(row.step_name, row.task_id)][row.name] = _artifact_record(row)
        return dict(result)

    def _task_cursor(self, conn: Connection, flow_name: str, run_id: str, after: str) -> int:
        """The key of the task `after` names, which must be a task of `flow_name/run_id`."""
        parts = after.split("/")
        if len(parts) != 4 or parts[:2] != [flow_name, run_id]:
            raise ShipyardError(
                f"after={after!r} is not the pathspec of a task of run '{flow_name}/{run_id}': "
                "page through tasks by passing the pathspec of the last task of the previous page"
            )
        return self._keys.task_pk(conn, flow_name, run_id, parts[2], parts[3])


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
    conn: Connection,
    flow_name: str,
    run_id: str,
    where: Sequence[ColumnElement[bool]],
    limit: int | None = None,
) -> list[TaskRecord]:
    """Task records matching `where`, in creation order, at most `limit`, each with all its
    attempts.

    Two queries in total (tasks, then their attempts) however many tasks match.
    """
    task_rows = conn.execute(
        select(Task.__table__).where(*where).order_by(Task.id).limit(limit)
    ).all()
    if not task_rows:
        return []
    # The tasks matching `where` between the first and last of these are exactly these.
    page = [*where, Task.id.between(task_rows[0].id, task_rows[-1].id)]
    attempts: dict[int, list[AttemptRecord]] = defaultdict(list)
    for row in conn.execute(
        select(Attempt.__table__)
        .join(Task, Task.id == Attempt.task_pk)
        .where(*page)
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
