"""The metadata schema as SQLAlchemy 2 typed models: the one place that says what a table holds.

The schema only ever changes through a migration in `migrations/versions/`; a test checks that
the migrated database and these models agree. The store queries these tables with Core
statements (`insert(Artifact)`, `select(Task.id)`) rather than loading ORM objects, because runs of
thousands of tasks make per-object bookkeeping the bottleneck and callers only ever receive the
frozen records of `records.py`.

Child tables use natural composite primary keys (`(run_id, tag)`, `(task_pk, attempt)`, ...):
the uniqueness the schema needs then costs one index, not a surrogate key plus a unique index.
"""

from __future__ import annotations

import enum
import json
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shipyard.metadata.experiment_records import ExperimentAction, ExperimentState
from shipyard.metadata.fact_records import BatchState
from shipyard.metadata.records import RunStatus, TaskStatus

# Explicit constraint names let later migrations drop or alter constraints by name, which
# PostgreSQL requires and SQLite's batch mode relies on.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, whatever the database keeps.

    SQLite has no time zones and hands back naive values; PostgreSQL keeps `timestamptz`. Both
    come back as aware UTC so that callers can compare and subtract timestamps freely.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: metadata timestamps must be aware")
        value = value.astimezone(UTC)
        # SQLite would silently drop the offset anyway; store plain UTC wall time explicitly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class JSONText(TypeDecorator[Any]):
    """A JSON value kept as text, so that SQLite and PostgreSQL store byte-identical documents.

    Keys are sorted so that equal values always serialize to equal text; Python `None` is stored
    as the JSON document `null`, never as SQL NULL, so a parameter whose value is None survives.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)


E = TypeVar("E", bound=enum.Enum)


class EnumValue(TypeDecorator[E]):
    """An enum member stored as its `.value` string, readable from SQL and free of native ENUMs.

    Native PostgreSQL enums would need a migration for every new status; a string does not.
    """

    impl = String(16)
    cache_ok = True

    def __init__(self, enum_type: type[E]) -> None:
        super().__init__()
        self.enum_type = enum_type

    def process_bind_param(self, value: E | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return str(self.enum_type(value).value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        return None if value is None else self.enum_type(value)


class Base(DeclarativeBase):
    """Declarative base of the metadata schema; its `metadata` is what migrations must produce."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Flow(Base):
    """A flow name seen at least once; runs hang off it."""

    __tablename__ = "flows"

    name: Mapped[str] = mapped_column(String, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Run(Base):
    """One execution of a flow; `id` is the run_id, unique across all flows."""

    __tablename__ = "runs"
    __table_args__ = (
        # Serves `list_runs(flow)` newest first straight from the index.
        Index("ix_runs_flow_name_id", "flow_name", "id"),
        # AUTOINCREMENT keeps SQLite from ever reusing the id of a deleted run.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flow_name: Mapped[str] = mapped_column(String, ForeignKey("flows.name", ondelete="CASCADE"))
    user: Mapped[str] = mapped_column(String)
    status: Mapped[RunStatus] = mapped_column(EnumValue(RunStatus))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    code_hash: Mapped[str | None] = mapped_column(String)
    origin_run_id: Mapped[int | None] = mapped_column(Integer)
    #: Where the process that schedules the run lives, so a dead runner can be recognised.
    runner_host: Mapped[str | None] = mapped_column(String)
    runner_pid: Mapped[int | None] = mapped_column(Integer)
    #: Refreshed by the runner while the run is running; a stale one means the runner is gone.
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RunParameter(Base):
    """A parameter value a run was started with, as JSON."""

    __tablename__ = "run_parameters"

    run_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String, primary_key=True)
    value: Mapped[Any] = mapped_column(JSONText, nullable=False)


class RunTag(Base):
    """A tag on a run; system tags (`user:...`, `flow:...`) are set by Shipyard and immutable."""

    __tablename__ = "run_tags"
    # Tag filters (`list_runs(tags=...)`, namespaces) look runs up by tag.
    __table_args__ = (Index("ix_run_tags_tag", "tag"),)

    run_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String, primary_key=True)
    is_system: Mapped[bool] = mapped_column(Boolean)


class Task(Base):
    """One task of a step in a run; `task_id` is its name within the run, `id` a surrogate key."""

    __tablename__ = "tasks"
    # The unique index's (run_id, step_name) prefix also serves per-step lookups, so no
    # separate (run_id, step_name) index is kept.
    __table_args__ = (UniqueConstraint("run_id", "step_name", "task_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(Integer, ForeignKey("runs.id", ondelete="CASCADE"))
    step_name: Mapped[str] = mapped_column(String)
    task_id: Mapped[str] = mapped_column(String)
    status: Mapped[TaskStatus] = mapped_column(EnumValue(TaskStatus))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    foreach_stack: Mapped[Any] = mapped_column(JSONText, nullable=False)
    input_paths: Mapped[Any] = mapped_column(JSONText, nullable=False)
    origin_pathspec: Mapped[str | None] = mapped_column(String)
    #: What the task asked for with @resources (cpu, memory in MB, gpu), as JSON.
    resources: Mapped[Any | None] = mapped_column(JSONText, nullable=True)


class Attempt(Base):
    """One try at running a task: retries add attempts, the last one decides the task's fate."""

    __tablename__ = "attempts"

    task_pk: Mapped[int] = mapped_column(
        Integer, ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True
    )
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    status: Mapped[TaskStatus] = mapped_column(EnumValue(TaskStatus))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stdout_hash: Mapped[str | None] = mapped_column(String)
    stderr_hash: Mapped[str | None] = mapped_column(String)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    #: The machine the attempt ran on (a Ray node, or the runner's own host).
    host: Mapped[str | None] = mapped_column(String)


class Artifact(Base):
    """A named artifact a task produced, pointing at its blob by sha256."""

    __tablename__ = "artifacts"

    task_pk: Mapped[int] = mapped_column(
        Integer, ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String, primary_key=True)
    attempt: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String)
    type_name: Mapped[str] = mapped_column(String)
    size: Mapped[int] = mapped_column(BigInteger)  # blobs may exceed 2 GiB
    encoding: Mapped[str] = mapped_column(String)


# --------------------------------------------------------------------------- model registry


class RegisteredModel(Base):
    """A model name in the registry; its versions and aliases hang off it."""

    __tablename__ = "registered_models"

    name: Mapped[str] = mapped_column(String, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    user: Mapped[str] = mapped_column(String)
    description: Mapped[str] = mapped_column(Text)
    tags: Mapped[Any] = mapped_column(JSONText, nullable=False)


class ModelVersion(Base):
    """One immutable registered version of a model: its stored payload and where it came from.

    Only `description` and `tags` ever change after the insert; the lineage columns are NULL
    for a model registered outside a flow.
    """

    __tablename__ = "model_versions"
    # Serves `Run(...).models`: the versions registered from one run.
    __table_args__ = (Index("ix_model_versions_flow_name_run_id", "flow_name", "run_id"),)

    model_name: Mapped[str] = mapped_column(
        String, ForeignKey("registered_models.name", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    user: Mapped[str] = mapped_column(String)
    flavor: Mapped[str] = mapped_column(String)
    payload_sha256: Mapped[str] = mapped_column(String)
    payload_size: Mapped[int] = mapped_column(BigInteger)
    signature: Mapped[Any | None] = mapped_column(JSONText, nullable=True)
    metrics: Mapped[Any] = mapped_column(JSONText, nullable=False)
    description: Mapped[str] = mapped_column(Text)
    tags: Mapped[Any] = mapped_column(JSONText, nullable=False)
    flow_name: Mapped[str | None] = mapped_column(String)
    run_id: Mapped[str | None] = mapped_column(String)
    step_name: Mapped[str | None] = mapped_column(String)
    task_id: Mapped[str | None] = mapped_column(String)
    artifact_name: Mapped[str | None] = mapped_column(String)
    artifact_sha256: Mapped[str | None] = mapped_column(String)
    parameters: Mapped[Any | None] = mapped_column(JSONText, nullable=True)
    code_hash: Mapped[str | None] = mapped_column(String)
    #: Python and library versions the payload was saved with, compared when it is loaded.
    environment: Mapped[Any | None] = mapped_column(JSONText, nullable=True)


class ModelAlias(Base):
    """A movable name (`production`) pointing at one version of a model."""

    __tablename__ = "model_aliases"
    __table_args__ = (
        ForeignKeyConstraint(
            ["model_name", "version"],
            ["model_versions.model_name", "model_versions.version"],
            ondelete="CASCADE",
        ),
    )

    model_name: Mapped[str] = mapped_column(String, primary_key=True)
    alias: Mapped[str] = mapped_column(String, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String)


class ModelAliasEvent(Base):
    """One move of an alias (set, moved or deleted): who, when, from which version to which."""

    __tablename__ = "model_alias_events"
    __table_args__ = (
        Index("ix_model_alias_events_model_name_alias_id", "model_name", "alias", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(
        String, ForeignKey("registered_models.name", ondelete="CASCADE")
    )
    alias: Mapped[str] = mapped_column(String)
    from_version: Mapped[int | None] = mapped_column(Integer)
    to_version: Mapped[int | None] = mapped_column(Integer)
    user: Mapped[str] = mapped_column(String)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class FactTable(Base):
    """A declared fact table: its entity and event-time columns and its schema."""

    __tablename__ = "fact_tables"

    name: Mapped[str] = mapped_column(String, primary_key=True)
    entity: Mapped[str] = mapped_column(String)
    event_time: Mapped[str] = mapped_column(String)
    #: [[column, type], ...] in declaration order (a JSON object's keys would be sorted).
    schema: Mapped[Any] = mapped_column(JSONText, nullable=False)
    #: The path or glob of an external table's Parquet files; NULL for a stored table.
    location: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String)


class FactBatch(Base):
    """One batch of a fact table: Parquet files written together and made visible together.

    `batch_id` counts 1, 2, 3... per table; `recorded_at` is allocated when the batch begins,
    strictly increasing per table (`last_recorded_at` differs only for a compacted batch).
    """

    __tablename__ = "fact_batches"

    table_name: Mapped[str] = mapped_column(
        String, ForeignKey("fact_tables.name", ondelete="CASCADE"), primary_key=True
    )
    batch_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    state: Mapped[BatchState] = mapped_column(EnumValue(BatchState))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    files: Mapped[Any] = mapped_column(JSONText, nullable=False)
    row_count: Mapped[int] = mapped_column(BigInteger)
    min_event_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    max_event_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replaced_by: Mapped[int | None] = mapped_column(Integer)
    replaced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# ------------------------------------------------------------------------------ experiments


class Experiment(Base):
    """An experiment's definition and state; its cells as JSON (they are read and written
    together, always with the experiment)."""

    __tablename__ = "experiments"

    name: Mapped[str] = mapped_column(String, primary_key=True)
    state: Mapped[ExperimentState] = mapped_column(EnumValue(ExperimentState))
    unit: Mapped[str] = mapped_column(String)
    salt: Mapped[str] = mapped_column(String)
    #: [[name, model reference, share, version or null], ...] in definition order.
    cells: Mapped[Any] = mapped_column(JSONText, nullable=False)
    control: Mapped[str] = mapped_column(String)
    holdout: Mapped[float] = mapped_column(Float)
    layer: Mapped[str | None] = mapped_column(String, index=True)
    traffic: Mapped[float] = mapped_column(Float)
    layer_offset: Mapped[float | None] = mapped_column(Float)
    description: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ExperimentEvent(Base):
    """One change of an experiment, in order: created, updated, started, stopped."""

    __tablename__ = "experiment_events"
    __table_args__ = (
        Index("ix_experiment_events_experiment_id", "experiment", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    experiment: Mapped[str] = mapped_column(
        String, ForeignKey("experiments.name", ondelete="CASCADE")
    )
    action: Mapped[ExperimentAction] = mapped_column(EnumValue(ExperimentAction))
    user: Mapped[str] = mapped_column(String)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    details: Mapped[Any] = mapped_column(JSONText, nullable=False)
