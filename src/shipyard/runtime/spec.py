"""What the scheduler hands an executor (`TaskSpec`) and what comes back (`TaskResult`).

Both are plain picklable records so that any executor (a forked local worker, a Ray task)
can carry them; a task never needs the metadata database.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from shipyard.datastore.refs import ArtifactRef
from shipyard.metadata.records import ForeachFrame
from shipyard.runtime.resources import Resources


@dataclass(frozen=True)
class InputTask:
    """A finished upstream task as its successor sees it: where it was and what it stored."""

    pathspec: str
    step_name: str
    artifacts: dict[str, ArtifactRef]
    foreach_stack: tuple[ForeachFrame, ...]


@dataclass(frozen=True)
class TaskSpec:
    flow_name: str
    run_id: str
    step_name: str
    task_id: str
    attempt: int
    inputs: tuple[InputTask, ...]
    foreach_stack: tuple[ForeachFrame, ...]
    datastore_url: str
    username: str
    tags: frozenset[str]
    origin_run_id: str | None = None
    #: Parameter values, given to the start task only; it stores them as artifacts.
    parameters: dict[str, Any] = field(default_factory=dict)
    parameter_names: frozenset[str] = frozenset()
    #: After this many seconds the executor kills the task process outright (@timeout).
    kill_after_seconds: float | None = None
    #: What the task asked for with @resources; executors that place tasks (Ray) request it.
    resources: Resources = field(default_factory=Resources)
    #: Blob of the run's code snapshot, from which remote workers import the flow.
    code_hash: str | None = None
    #: `--with` step decorator specs (`name:key=value,...`) the task attaches to its step.
    with_decorators: tuple[str, ...] = ()
    fresh_interpreter: bool = False

    @property
    def pathspec(self) -> str:
        return f"{self.flow_name}/{self.run_id}/{self.step_name}/{self.task_id}"

    @property
    def key(self) -> str:
        """A file-name-safe identity of this attempt."""
        return f"{self.step_name}.{self.task_id}.{self.attempt}"


class Outcome(enum.Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class TaskResult:
    outcome: Outcome
    artifacts: dict[str, ArtifactRef] = field(default_factory=dict)
    #: Number of elements a foreach step fans out to; None for other steps.
    foreach_num_splits: int | None = None
    #: The user's traceback (our own frames removed) when the step failed.
    error: str | None = None
    exit_code: int | None = None
    stdout_hash: str | None = None
    stderr_hash: str | None = None
    #: Where the task ran, when the executor knows (a crashed Ray worker's host it may not).
    host: str | None = None
