"""Finding runs and tasks by name in the SQL backend: their primary keys, and the caches of them.

Writes and reads both address a run as `flow_name/run_id` and a task by its pathspec; the
database addresses them by integer keys. `RunKeys` translates, raising `ObjectNotFound` with a
message that says how to find what exists, and remembers what it found: ids stay valid once
known, since runs never move between flows and no run or task is ever deleted (whatever comes
to delete them must drop them here too), so a scheduler need not look them up again on every
call.
"""

from __future__ import annotations

from collections.abc import Hashable
from functools import cached_property
from typing import TypeVar

from sqlalchemy import Connection

from shipyard.exceptions import ObjectNotFound
from shipyard.metadata.sql.database import Database
from shipyard.metadata.sql.ids import parse_run_id
from shipyard.metadata.sql.statements import Statements

__all__ = ["RunKeys"]

# Entries kept in each id cache before starting that cache afresh.
_CACHE_LIMIT = 4096

_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")

TaskKey = tuple[str, str, str, str]
"""(flow_name, run_id, step_name, task_id)"""


class RunKeys:
    """Primary keys of runs and tasks in `database`, and the backend's prepared statements."""

    def __init__(self, database: Database) -> None:
        self.database = database
        # Runs known to belong to a flow, by (flow_name, run_id):
        self._run_pks: dict[tuple[str, str], int] = {}
        # Tasks whose start_task committed, for the finish_task that follows:
        self._started_task_pks: dict[TaskKey, int] = {}

    @cached_property
    def statements(self) -> Statements:
        # Built on first use: commands that only list runs need not pay for them.
        return Statements.build(self.database.dialect)

    def run_pk(self, conn: Connection, flow_name: str, run_id: str) -> int:
        """The primary key of run `run_id`, which must belong to `flow_name`."""
        known = self._run_pks.get((flow_name, run_id))
        if known is not None:
            return known
        run_pk = parse_run_id(run_id)
        if run_pk is not None:
            owner = conn.scalar(self.statements.run_flow, {"key_run_pk": run_pk})
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

    def task_pk(
        self, conn: Connection, flow_name: str, run_id: str, step_name: str, task_id: str
    ) -> int:
        """The primary key of a task, in one query when it exists."""
        run_pk = parse_run_id(run_id)
        if run_pk is not None:
            task_pk = conn.scalar(
                self.statements.task_pk,
                {
                    "key_run_pk": run_pk,
                    "key_step_name": step_name,
                    "key_task_id": task_id,
                    "key_flow_name": flow_name,
                },
            )
            if task_pk is not None:
                return task_pk
        self.run_pk(conn, flow_name, run_id)  # raises if the run itself is the problem
        raise ObjectNotFound(
            f"task '{flow_name}/{run_id}/{step_name}/{task_id}' does not exist; "
            f"list the run's tasks with `shipyard tasks {flow_name}/{run_id}`"
        )

    def remember_run(self, flow_name: str, run_id: str, run_pk: int) -> None:
        """Note a run's key; only once committed, as the id of a rolled-back run names no run."""
        _remember(self._run_pks, (flow_name, run_id), run_pk)

    def remember_started_task(self, task: TaskKey, task_pk: int) -> None:
        """Note the key of a task whose start committed, for the finish that follows."""
        _remember(self._started_task_pks, task, task_pk)

    def take_started_task(self, task: TaskKey) -> int | None:
        """The key `remember_started_task` noted, taken out: one finish follows each start,
        and a retry's start notes the task again."""
        return self._started_task_pks.pop(task, None)


def _remember(cache: dict[_K, _V], key: _K, value: _V) -> None:
    """Add to one of the id caches, emptying it first when full.

    Keeps memory bounded in a long-lived process without bookkeeping per hit; a forgotten id
    costs only one look-up the next time it is needed.
    """
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value
