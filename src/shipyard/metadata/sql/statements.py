"""The prepared statements of the SQL backend's hot paths, and the helpers that build them.

The scheduler starts and finishes every task through these (a 1,000-task fan-out runs them
thousands of times), so they are built once per backend and executed with plain dicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BindParameter,
    Delete,
    Insert,
    Select,
    Table,
    Update,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.sql.dml import ReturningInsert

from shipyard.metadata.models import (
    Artifact,
    Attempt,
    Base,
    Flow,
    Run,
    RunParameter,
    RunTag,
    Task,
)

__all__ = ["Statements", "dialect_insert", "table"]


@dataclass(frozen=True)
class Statements:
    """The statements of the hot paths (creating runs, starting and finishing tasks, id look-ups).

    Building a statement costs SQLAlchemy several times what SQLite needs to run it: every
    value is coerced, ON CONFLICT makes its `excluded` columns anew, and a new statement object
    computes its cache key before its compiled SQL is found. These take all their values as
    bind parameters instead, so a call only executes them with a plain dict. They are built on
    the `Table`s, not the ORM classes, which would send every insert through the ORM's bulk
    persistence.

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
    def build(cls, dialect: str) -> Statements:
        flows, runs, tasks = table(Flow), table(Run), table(Task)
        attempts, artifacts = table(Attempt), table(Artifact)
        task_insert = dialect_insert(dialect, tasks)
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
            insert_flow=dialect_insert(dialect, flows).on_conflict_do_nothing(
                index_elements=["name"]
            ),
            insert_run=insert(runs).returning(runs.c.id),
            insert_run_tags=insert(table(RunTag)),
            insert_run_parameters=insert(table(RunParameter)),
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


def table(model: type[Base]) -> Table:
    """The `Table` of an ORM model."""
    found = model.__table__
    assert isinstance(found, Table)  # declared with __tablename__, so never a mere FromClause
    return found


def dialect_insert(dialect: str, target: Any) -> Any:
    """The dialect's INSERT into `target` (a table or model), which knows ON CONFLICT (alike on
    SQLite and PostgreSQL)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(target)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(target)


def _bound_values(*columns: str) -> dict[str, BindParameter[Any]]:
    """Values for `columns` from the bind parameters of the same names (typed like the columns)."""
    return {column: bindparam(column) for column in columns}
