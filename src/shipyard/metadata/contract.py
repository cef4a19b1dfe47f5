"""The metadata contract: what each caller needs from the metadata, as small Protocols.

Callers type against these, never against a backend class, and get a backend from
`open_metadata(url)`. The SQL backend (`metadata.sql`) implements all of them; the fast
SQLite listing (`metadata.run_index`) implements `RunLister`; the HTTP backend of team mode
will implement them again over the network. Hence the records they take and return are the
frozen dataclasses of `records` and `registry_records`, and the errors are Shipyard's own
(`ObjectNotFound`, `ShipyardError`, `metadata.errors`), never a driver's.

The pattern for a domain (the model registry, the fact catalogue, experiments; deployments and
tokens next): one Protocol for the domain's store here, one implementation per backend, and the
backend exposes it as an attribute named after the domain (`backend.models`). A domain store
shares its backend's database and transactions inside the backend's package; nothing outside
`metadata/` sees an engine or a connection.

Pagination is by key, not by offset, so that a page costs the same at task 100,000 as at task
1: pass the last record of one page as `after` to get the next (`limit` records at most).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, Self

if TYPE_CHECKING:  # annotations only: `shipyard runs` imports this module and stays fast
    from collections.abc import Iterable, Mapping, Sequence
    from datetime import datetime

    from shipyard.datastore.refs import ArtifactRef
    from shipyard.metadata.experiment_records import (
        ExperimentDefinition,
        ExperimentEventRecord,
        ExperimentRecord,
        ExperimentState,
    )
    from shipyard.metadata.fact_records import BatchState, FactBatchRecord, FactTableRecord
    from shipyard.metadata.records import (
        ArtifactRecord,
        FinishedTask,
        ForeachFrame,
        RunRecord,
        RunStatus,
        StartedTask,
        TaskRecord,
        TaskStatus,
    )
    from shipyard.metadata.registry_records import (
        AliasEventRecord,
        LineageRecord,
        ModelRecord,
        ModelVersionRecord,
    )

__all__ = [
    "ExperimentStore",
    "FactCatalogStore",
    "MetadataBackend",
    "ModelRegistryStore",
    "RunLister",
    "RunReader",
    "RunRecorder",
]


class RunRecorder(Protocol):
    """The writes a run makes while it runs (the scheduler, resume), and tagging."""

    def create_run(
        self,
        flow_name: str,
        user: str,
        *,
        tags: Iterable[str] = (),
        parameters: Mapping[str, Any] = ...,
        code_hash: str | None = None,
        origin_run_id: str | None = None,
        runner_host: str | None = None,
        runner_pid: int | None = None,
    ) -> str:
        """Record a new running run of `flow_name` and return its run_id.

        The run also gets the system tags `user:<user>` and `flow:<flow_name>`; `origin_run_id`
        names the run a resume continues; `parameters` must be JSON-serializable. A resume is
        refused (`ShipyardError`) while another resume of the same origin is still running.
        """
        ...

    def set_code_hash(self, flow_name: str, run_id: str, code_hash: str) -> None:
        """Attach the hash of the run's code snapshot."""
        ...

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
        """Mark a task running and record the start of its attempt number `attempt`."""
        ...

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
        """Record how an attempt ended and, on success, the task's artifacts, atomically."""
        ...

    def record_tasks(self, changes: Sequence[StartedTask | FinishedTask]) -> None:
        """`start_task` and `finish_task` for each of `changes`, in their order, in one commit:
        all of them are recorded or none.

        What a scheduler records per round (the tasks that finished, the tasks it starts
        next) costs one commit instead of one per task; a task's artifacts still appear
        together with its final status. A retry's start may follow its failed attempt's
        finish in the same call.
        """
        ...

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
        """Record a task that resume reused from `origin` instead of running it again."""
        ...

    def beat(self, flow_name: str, run_id: str) -> None:
        """Note that the run's runner is alive now (see `metadata.liveness`)."""
        ...

    def finish_run(self, flow_name: str, run_id: str, status: RunStatus) -> None:
        """Set the run's final status (RUNNING reopens it)."""
        ...

    def fail_running_tasks(self, flow_name: str, run_id: str, reason: str) -> int:
        """Mark every task of the run still running as failed; return how many."""
        ...

    def add_tags(self, flow_name: str, run_id: str, tags: Iterable[str]) -> None:
        """Add user tags to a run."""
        ...

    def remove_tags(self, flow_name: str, run_id: str, tags: Iterable[str]) -> None:
        """Remove user tags from a run; system tags cannot be removed."""
        ...


class RunLister(Protocol):
    """Listing flows and runs: what `shipyard runs` and `Flow(...).runs()` need."""

    def list_flows(self) -> list[str]:
        """Names of all flows that have ever run, alphabetically."""
        ...

    def list_runs(
        self,
        flow_name: str | None = None,
        *,
        tags: Iterable[str] = (),
        limit: int | None = None,
        after: str | None = None,
    ) -> list[RunRecord]:
        """Runs newest first, of one flow or of all, having every one of `tags`.

        `after` is the run_id of the last run of the previous page: the runs older than it.
        """
        ...


class RunReader(RunLister, Protocol):
    """The reads of the client, the CLI and resume: runs, steps, tasks and artifacts."""

    def get_run(self, flow_name: str, run_id: str) -> RunRecord:
        """The run `flow_name/run_id`; raises `ObjectNotFound` if there is none."""
        ...

    def list_steps(self, flow_name: str, run_id: str) -> list[str]:
        """Names of the run's steps that have tasks, in the order their first task started."""
        ...

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

        `after` is the `pathspec` of the last task of the previous page.
        """
        ...

    def get_task(self, flow_name: str, run_id: str, step_name: str, task_id: str) -> TaskRecord:
        """One task with its attempts; raises `ObjectNotFound` if it does not exist."""
        ...

    def task_artifacts(
        self, flow_name: str, run_id: str, step_name: str, task_id: str
    ) -> dict[str, ArtifactRecord]:
        """The artifacts of one task by name (empty until the task has succeeded)."""
        ...

    def artifacts_of_run(
        self, flow_name: str, run_id: str
    ) -> dict[tuple[str, str], dict[str, ArtifactRecord]]:
        """All artifacts of a run keyed by (step_name, task_id); tasks without any are absent."""
        ...


class ModelRegistryStore(Protocol):
    """The model registry's records: models, immutable versions, aliases and their history."""

    def create_version(
        self,
        model_name: str,
        *,
        user: str,
        flavor: str,
        payload_sha256: str,
        payload_size: int,
        signature: dict[str, Any] | None,
        metrics: Mapping[str, float],
        description: str,
        tags: Mapping[str, str],
        lineage: LineageRecord | None,
        environment: Mapping[str, Any] | None = None,
    ) -> ModelVersionRecord:
        """Add the next version of `model_name` (1, 2, 3...), creating the model on first use."""
        ...

    def set_model_description(self, model_name: str, description: str) -> None: ...

    def set_model_tags(self, model_name: str, tags: Mapping[str, str]) -> None: ...

    def set_version_description(self, model_name: str, version: int, description: str) -> None:
        """Replace a version's description (one of the two things a version lets change)."""
        ...

    def set_version_tags(self, model_name: str, version: int, tags: Mapping[str, str]) -> None:
        """Replace a version's tags (the other thing a version lets change)."""
        ...

    def set_alias(self, model_name: str, alias: str, version: int, user: str) -> int | None:
        """Point `alias` at `version` and record the move; return the version it left.

        An alias already at `version` stays as it is, and no move is recorded."""
        ...

    def delete_alias(self, model_name: str, alias: str, user: str) -> int | None:
        """Remove `alias`, recording it in its history; return the version it pointed at, or
        None (and record nothing) when the alias is not set."""
        ...

    def rollback_alias(self, model_name: str, alias: str, user: str) -> int:
        """Move `alias` back to where its last move took it from; return that version."""
        ...

    def get_version(self, model_name: str, version: int) -> ModelVersionRecord: ...

    def latest_version(self, model_name: str) -> ModelVersionRecord: ...

    def alias_version(self, model_name: str, alias: str) -> int: ...

    def list_versions(self, model_name: str) -> list[ModelVersionRecord]:
        """Every version of a model, oldest first."""
        ...

    def versions_of_run(self, flow_name: str, run_id: str) -> list[ModelVersionRecord]:
        """The versions registered from one run, in registration order."""
        ...

    def get_model(self, model_name: str) -> ModelRecord: ...

    def list_models(self) -> list[ModelRecord]:
        """Every registered model, alphabetically."""
        ...

    def alias_history(self, model_name: str, alias: str) -> list[AliasEventRecord]:
        """Every move of `alias`, oldest first."""
        ...

    def payload_hashes(self) -> set[str]:
        """The blob hashes of every version's payload."""
        ...


class FactCatalogStore(Protocol):
    """The fact store's catalogue: declared tables and which batches of Parquet files are visible.

    The files themselves live on the datastore (`features.facts` writes them); a batch is
    visible once, and only once, `commit_batch` has recorded its files, so a reader never sees
    part of a write. `recorded_at` is allocated here, in the transaction that creates the batch:
    one timestamp per batch, UTC, strictly increasing per table.
    """

    def declare_table(
        self,
        name: str,
        *,
        entity: str,
        event_time: str,
        schema: Mapping[str, str],
        location: str | None,
        user: str,
    ) -> FactTableRecord:
        """Declare a table, or return the declaration already stored under `name` unchanged
        (the caller compares the two: a different one must be refused, not overwritten)."""
        ...

    def get_table(self, name: str) -> FactTableRecord:
        """One table; raises `ObjectNotFound` naming the tables that exist."""
        ...

    def list_tables(self) -> list[FactTableRecord]:
        """Every declared table, alphabetically."""
        ...

    def begin_batch(self, table: str, *, at_least: datetime | None = None) -> FactBatchRecord:
        """A new PENDING batch with its number and `recorded_at` allocated: the later of now
        (or `at_least`) and a microsecond after the table's latest recorded_at."""
        ...

    def commit_batch(
        self,
        table: str,
        batch_id: int,
        *,
        files: Sequence[str],
        row_count: int,
        min_event_time: datetime | None,
        max_event_time: datetime | None,
    ) -> FactBatchRecord:
        """Make a PENDING batch VISIBLE with its files, in one transaction."""
        ...

    def abort_batch(self, table: str, batch_id: int) -> None:
        """Mark a PENDING batch ABORTED (its write failed); a committed one is left alone."""
        ...

    def register_files(self, table: str, files: Mapping[str, int]) -> FactBatchRecord | None:
        """Make those of `files` (path: row count) that no batch of `table` lists yet one new
        VISIBLE batch recorded now, in one transaction: files registered in place (an
        external table's) are never listed twice, however many processes register them at
        once. None when every file is listed already."""
        ...

    def replace_batches(
        self,
        table: str,
        replaced: Sequence[int],
        *,
        files: Sequence[str],
        row_count: int,
        min_event_time: datetime | None,
        max_event_time: datetime | None,
    ) -> FactBatchRecord:
        """Swap VISIBLE batches for one new VISIBLE batch holding the same facts (compaction),
        in one transaction; raises `ShipyardError` if any of them is no longer VISIBLE."""
        ...

    def forget_batches(self, table: str, batch_ids: Sequence[int]) -> int:
        """Delete the rows of REPLACED or ABORTED batches whose files were deleted; return how
        many (a batch in another state is never deleted)."""
        ...

    def list_batches(
        self,
        table: str,
        *,
        as_of: datetime | None = None,
        states: Iterable[BatchState] | None = None,
    ) -> list[FactBatchRecord]:
        """The table's batches in `states` (default: VISIBLE) oldest first, holding facts
        recorded at or before `as_of` when it is given."""
        ...


class ExperimentStore(Protocol):
    """Experiments: definitions, their life (draft -> running -> stopped) and its history.

    The store keeps the rules that need a transaction: a name is taken once; only a draft's
    definition changes; an experiment starts only from draft and stops only while running;
    the running experiments of one layer never overlap. Every change records who and when
    in the same commit. Checking a definition's content (shares, models) is the caller's.
    """

    def create_experiment(self, definition: ExperimentDefinition, user: str) -> ExperimentRecord:
        """Store a new draft; `ShipyardError` if the name is taken."""
        ...

    def update_experiment(self, definition: ExperimentDefinition, user: str) -> ExperimentRecord:
        """Replace a draft's definition; `ShipyardError` once it has started."""
        ...

    def start_experiment(
        self, name: str, *, versions: Mapping[str, int], offset: float, user: str
    ) -> ExperimentRecord:
        """Draft -> running, with each cell's resolved version and the layer slice from
        `offset`; `ShipyardError` if it is not a draft or its slice overlaps a running
        experiment of its layer."""
        ...

    def stop_experiment(self, name: str, user: str) -> ExperimentRecord:
        """Running -> stopped; `ShipyardError` if it is not running."""
        ...

    def get_experiment(self, name: str) -> ExperimentRecord:
        """One experiment; `ObjectNotFound` naming the ones that exist."""
        ...

    def list_experiments(
        self, *, state: ExperimentState | None = None, layer: str | None = None
    ) -> list[ExperimentRecord]:
        """Experiments (in `state`, in `layer`, when given), alphabetically."""
        ...

    def experiment_history(self, name: str) -> list[ExperimentEventRecord]:
        """Every change of an experiment, oldest first."""
        ...


class MetadataBackend(RunRecorder, RunReader, Protocol):
    """Everything a process may do with the metadata: what `open_metadata(url)` returns.

    Runs are recorded and read on the backend itself; each domain has its store as an
    attribute (`models`). A backend holds connections: close it, or use it as a context
    manager. A backend must not be used across `os.fork()`; the child opens its own.
    """

    @property
    def models(self) -> ModelRegistryStore:
        """The model registry's store, in the same database as the runs it points at."""
        ...

    @property
    def facts(self) -> FactCatalogStore:
        """The fact store's catalogue of tables and batches."""
        ...

    @property
    def experiments(self) -> ExperimentStore:
        """The experiments' definitions, states and histories."""
        ...

    def referenced_hashes(self) -> set[str]:
        """Every blob hash the metadata points to, in every domain (what gc must keep)."""
        ...

    def close(self) -> None:
        """Release the backend's connections."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc_info: object) -> None: ...
