"""Plain, immutable records the metadata store hands out; callers never see ORM objects."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shipyard.datastore.refs import ArtifactRef


class RunStatus(enum.Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    #: Never stored: a run still marked running whose runner is gone (`metadata.liveness`).
    LOST = "lost"


class TaskStatus(enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class ForeachFrame:
    """One level of foreach fan-out around a task: which split step, which element of how many."""

    step: str
    var: str
    index: int
    num_splits: int

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "var": self.var,
            "index": self.index,
            "num_splits": self.num_splits,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ForeachFrame:
        return cls(data["step"], data["var"], int(data["index"]), int(data["num_splits"]))


@dataclass(frozen=True)
class RunRecord:
    flow_name: str
    run_id: str
    user: str
    status: RunStatus
    created_at: datetime
    finished_at: datetime | None
    code_hash: str | None
    origin_run_id: str | None
    parameters: dict[str, Any]
    tags: frozenset[str]
    system_tags: frozenset[str]
    runner_host: str | None = None
    runner_pid: int | None = None
    heartbeat_at: datetime | None = None

    @property
    def pathspec(self) -> str:
        return f"{self.flow_name}/{self.run_id}"


@dataclass(frozen=True)
class AttemptRecord:
    attempt: int
    status: TaskStatus
    started_at: datetime
    finished_at: datetime | None
    stdout_hash: str | None
    stderr_hash: str | None
    exit_code: int | None
    error: str | None
    host: str | None = None


@dataclass(frozen=True)
class TaskRecord:
    flow_name: str
    run_id: str
    step_name: str
    task_id: str
    status: TaskStatus
    created_at: datetime
    finished_at: datetime | None
    foreach_stack: tuple[ForeachFrame, ...]
    input_paths: tuple[str, ...]
    attempts: tuple[AttemptRecord, ...] = field(default=())
    origin_pathspec: str | None = None
    resources: dict[str, float] | None = None

    @property
    def pathspec(self) -> str:
        return f"{self.flow_name}/{self.run_id}/{self.step_name}/{self.task_id}"


@dataclass(frozen=True)
class ArtifactRecord:
    name: str
    ref: ArtifactRef
    attempt: int


@dataclass(frozen=True)
class StartedTask:
    """The start of one attempt of a task: what `RunRecorder.record_tasks` records for it.

    The first attempt creates the task; a retry's start reuses it.
    """

    flow_name: str
    run_id: str
    step_name: str
    task_id: str
    attempt: int
    foreach_stack: Sequence[ForeachFrame]
    input_paths: Sequence[str]
    resources: Mapping[str, float] | None = None

    @property
    def pathspec(self) -> str:
        return f"{self.flow_name}/{self.run_id}/{self.step_name}/{self.task_id}"


@dataclass(frozen=True)
class FinishedTask:
    """How one attempt of a task ended: what `RunRecorder.record_tasks` records per task.

    On success `artifacts` become the task's artifacts; on failure they are ignored.
    """

    flow_name: str
    run_id: str
    step_name: str
    task_id: str
    attempt: int
    status: TaskStatus
    artifacts: Mapping[str, ArtifactRef]
    stdout_hash: str | None
    stderr_hash: str | None
    exit_code: int | None
    error: str | None
    host: str | None = None

    @property
    def pathspec(self) -> str:
        return f"{self.flow_name}/{self.run_id}/{self.step_name}/{self.task_id}"
