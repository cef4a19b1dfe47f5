"""The SQL backend's `RunRecorder`: the writes of runs, tasks, attempts, artifacts and tags.

Each write method is one short transaction, so that what a reader sees is always a state some
writer committed: in particular a task's artifacts appear together with its final status or
not at all. The scheduler records every task's start and finish (`record_tasks`, a round of
them per commit), so these run prepared statements (`statements`) on cached keys (`keys`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.exc import IntegrityError

from shipyard.datastore.refs import ArtifactRef
from shipyard.exceptions import ObjectNotFound, ShipyardError
from shipyard.metadata.contract import RunRecorder
from shipyard.metadata.liveness import runner_alive
from shipyard.metadata.models import Attempt, Run, RunTag, Task
from shipyard.metadata.records import (
    FinishedTask,
    ForeachFrame,
    RunStatus,
    StartedTask,
    TaskRecord,
    TaskStatus,
)
from shipyard.metadata.rules import (
    check_json_parameters,
    is_system_tag,
    tag_set,
    validated_user_tags,
)
from shipyard.metadata.sql.keys import RunKeys, TaskKey
from shipyard.metadata.sql.statements import dialect_insert, table

__all__ = ["SQLRunRecorder"]

_NO_PARAMETERS: Mapping[str, Any] = MappingProxyType({})


class SQLRunRecorder(RunRecorder):
    """Records runs and tasks in the database of `keys`."""

    def __init__(self, keys: RunKeys) -> None:
        self._keys = keys

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
        user_tags = validated_user_tags(tags)
        check_json_parameters(parameters)
        now = _now()
        keys = self._keys
        statements = keys.statements
        with keys.database.write() as conn:
            origin_pk = None
            if origin_run_id is not None:
                origin_pk = keys.run_pk(conn, flow_name, origin_run_id)
                _refuse_a_second_resume(conn, flow_name, origin_run_id, origin_pk, now)
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
        keys.remember_run(flow_name, run_id, run_pk)
        return run_id

    def set_code_hash(self, flow_name: str, run_id: str, code_hash: str) -> None:
        """Attach the hash of the run's code snapshot, known only once the snapshot is stored."""
        with self._keys.database.write() as conn:
            run_pk = self._keys.run_pk(conn, flow_name, run_id)
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
        self.record_tasks(
            (
                StartedTask(
                    flow_name,
                    run_id,
                    step_name,
                    task_id,
                    attempt=attempt,
                    foreach_stack=foreach_stack,
                    input_paths=input_paths,
                    resources=resources,
                ),
            )
        )

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
        self.record_tasks(
            (
                FinishedTask(
                    flow_name,
                    run_id,
                    step_name,
                    task_id,
                    attempt=attempt,
                    status=status,
                    artifacts=artifacts,
                    stdout_hash=stdout_hash,
                    stderr_hash=stderr_hash,
                    exit_code=exit_code,
                    error=error,
                    host=host,
                ),
            )
        )

    def record_tasks(self, changes: Sequence[StartedTask | FinishedTask]) -> None:
        """Starts and finishes of tasks, in the order given, all in one transaction.

        One commit for many tasks is what makes a wide fan-out cheap to record; each task's
        status and artifacts still become visible together, and if any change cannot be
        recorded, none of them is.
        """
        for change in changes:
            if isinstance(change, FinishedTask) and change.status not in (
                TaskStatus.SUCCEEDED,
                TaskStatus.FAILED,
            ):
                raise ShipyardError(
                    f"a task finishes as succeeded or failed, not {change.status.value}"
                )
        if not changes:
            return
        now = _now()
        keys = self._keys
        started: dict[TaskKey, int] = {}
        with keys.database.write() as conn:
            for change in changes:
                key = (change.flow_name, change.run_id, change.step_name, change.task_id)
                if isinstance(change, StartedTask):
                    started[key] = self._start(conn, change, now)
                else:
                    # A cached key is taken out: after a rollback the next finish looks it up.
                    task_pk = started.pop(key) if key in started else keys.take_started_task(key)
                    self._finish(conn, change, task_pk, now)
        # Only once committed: the id of a rolled-back insert names no task.
        for key, task_pk in started.items():
            keys.remember_started_task(key, task_pk)

    def _start(self, conn: Connection, task: StartedTask, now: datetime) -> int:
        statements = self._keys.statements
        run_pk = self._keys.run_pk(conn, task.flow_name, task.run_id)
        task_pk: int = conn.execute(
            statements.upsert_task,
            {
                "run_id": run_pk,
                "step_name": task.step_name,
                "task_id": task.task_id,
                "status": TaskStatus.RUNNING,
                "created_at": now,
                "finished_at": None,
                "foreach_stack": [frame.to_json() for frame in task.foreach_stack],
                "input_paths": list(task.input_paths),
                "resources": dict(task.resources) if task.resources is not None else None,
            },
        ).scalar_one()
        try:
            conn.execute(
                statements.insert_attempt,
                {
                    "task_pk": task_pk,
                    "attempt": task.attempt,
                    "status": TaskStatus.RUNNING,
                    "started_at": now,
                },
            )
        except IntegrityError as exc:
            raise ShipyardError(
                f"attempt {task.attempt} of task '{task.pathspec}' was already started; "
                "a retry must use the next attempt number"
            ) from exc
        return task_pk

    def _finish(
        self, conn: Connection, task: FinishedTask, task_pk: int | None, now: datetime
    ) -> None:
        statements = self._keys.statements
        if task_pk is None:
            task_pk = self._keys.task_pk(
                conn, task.flow_name, task.run_id, task.step_name, task.task_id
            )
        updated = conn.execute(
            statements.finish_attempt,
            {
                "key_task_pk": task_pk,
                "key_attempt": task.attempt,
                "status": task.status,
                "finished_at": now,
                "stdout_hash": task.stdout_hash,
                "stderr_hash": task.stderr_hash,
                "exit_code": task.exit_code,
                "error": task.error,
                "host": task.host,
            },
        )
        if updated.rowcount == 0:
            raise ObjectNotFound(
                f"attempt {task.attempt} of task '{task.pathspec}' was never started; "
                "call start_task before finish_task"
            )
        conn.execute(
            statements.finish_task,
            {"key_task_pk": task_pk, "status": task.status, "finished_at": now},
        )
        if task.status is TaskStatus.SUCCEEDED:
            conn.execute(statements.delete_artifacts, {"key_task_pk": task_pk})
            self._insert_artifacts(conn, task_pk, task.attempt, task.artifacts)

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
        keys = self._keys
        statements = keys.statements
        with keys.database.write() as conn:
            run_pk = keys.run_pk(conn, flow_name, run_id)
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
        with self._keys.database.write() as conn:
            run_pk = self._keys.run_pk(conn, flow_name, run_id)
            conn.execute(update(Run).where(Run.id == run_pk).values(heartbeat_at=_now()))

    def finish_run(self, flow_name: str, run_id: str, status: RunStatus) -> None:
        """Set the run's final status (RUNNING reopens it, e.g. for resume, clearing the end)."""
        finished_at = None if status is RunStatus.RUNNING else _now()
        with self._keys.database.write() as conn:
            run_pk = self._keys.run_pk(conn, flow_name, run_id)
            conn.execute(
                update(Run).where(Run.id == run_pk).values(status=status, finished_at=finished_at)
            )

    def fail_running_tasks(self, flow_name: str, run_id: str, reason: str) -> int:
        """Mark every task and attempt of the run still `running` as failed; return how many tasks.

        Called when a worker died or the runner was killed, so that no task stays `running`
        forever; `reason` becomes the error of each attempt it ends.
        """
        now = _now()
        with self._keys.database.write() as conn:
            run_pk = self._keys.run_pk(conn, flow_name, run_id)
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
        user_tags = validated_user_tags(tags)
        database = self._keys.database
        with database.write() as conn:
            run_pk = self._keys.run_pk(conn, flow_name, run_id)
            if not user_tags:
                return
            rows = [{"run_id": run_pk, "tag": t, "is_system": False} for t in sorted(user_tags)]
            tag_insert = dialect_insert(database.dialect, table(RunTag)).on_conflict_do_nothing(
                index_elements=["run_id", "tag"]
            )
            conn.execute(tag_insert, rows)

    def remove_tags(self, flow_name: str, run_id: str, tags: Iterable[str]) -> None:
        """Remove user tags from a run; tags it does not have are ignored.

        Raises `ShipyardError`, removing nothing, if any of `tags` is a system tag.
        """
        wanted = tag_set(tags)
        with self._keys.database.write() as conn:
            run_pk = self._keys.run_pk(conn, flow_name, run_id)
            stored_system = conn.scalars(
                select(RunTag.tag).where(
                    RunTag.run_id == run_pk, RunTag.is_system.is_(True), RunTag.tag.in_(wanted)
                )
            ).all()
            system = sorted(set(stored_system) | {t for t in wanted if is_system_tag(t)})
            if system:
                raise ShipyardError(
                    f"cannot remove {', '.join(repr(t) for t in system)} from run "
                    f"'{flow_name}/{run_id}': system tags are permanent; only user tags can be "
                    "removed"
                )
            if wanted:
                conn.execute(delete(RunTag).where(RunTag.run_id == run_pk, RunTag.tag.in_(wanted)))

    def _insert_artifacts(
        self, conn: Connection, task_pk: int, attempt: int, artifacts: Mapping[str, ArtifactRef]
    ) -> None:
        if not artifacts:
            return
        # One executemany INSERT for all rows: tasks with many artifacts stay one round trip.
        conn.execute(
            self._keys.statements.insert_artifacts,
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


def _refuse_a_second_resume(
    conn: Connection, flow_name: str, origin_run_id: str, origin_pk: int, now: datetime
) -> None:
    """One resume of a run at a time: two would both run every task the origin did not finish.

    The check and the new run's insert share one write transaction, and the origin's row is
    locked first (PostgreSQL; SQLite's write transactions are exclusive already), so of two
    resumes started at once the second sees the first's run. A resume whose runner is gone
    does not count: its run is lost and the origin may be resumed again.
    """
    conn.execute(select(Run.id).where(Run.id == origin_pk).with_for_update())
    resumes = conn.execute(
        select(Run.id, Run.runner_host, Run.runner_pid, Run.heartbeat_at).where(
            Run.origin_run_id == origin_pk, Run.status == RunStatus.RUNNING
        )
    ).all()
    for resume in resumes:
        if runner_alive(resume.runner_host, resume.runner_pid, resume.heartbeat_at, now):
            raise ShipyardError(
                f"run {flow_name}/{origin_run_id} is already being resumed as "
                f"{flow_name}/{resume.id} (pid {resume.runner_pid} on {resume.runner_host}); "
                f"wait for it to finish, then resume {flow_name}/{resume.id} if it fails"
            )


def _now() -> datetime:
    return datetime.now(UTC)
