"""What the scheduler hands an executor (`TaskSpec`) and what comes back (`TaskResult`).

Both are plain records that any executor can carry (a forked local worker, a Ray task,
a fresh interpreter started on the task entrypoint); a task never needs the metadata
database. `to_json` / `from_json` turn them into JSON documents and back exactly, so a task
can cross a process, a machine or a language boundary as text.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any

from shipyard.datastore.refs import ArtifactRef
from shipyard.exceptions import DatastoreError
from shipyard.flow.parallel import Parallel
from shipyard.metadata.records import ForeachFrame
from shipyard.runtime.resources import Resources


@dataclass(frozen=True)
class InputTask:
    """A finished upstream task as its successor sees it: where it was and what it stored."""

    pathspec: str
    step_name: str
    artifacts: dict[str, ArtifactRef]
    foreach_stack: tuple[ForeachFrame, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "pathspec": self.pathspec,
            "step_name": self.step_name,
            "artifacts": _refs_to_json(self.artifacts),
            "foreach_stack": [frame.to_json() for frame in self.foreach_stack],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InputTask:
        return cls(
            pathspec=data["pathspec"],
            step_name=data["step_name"],
            artifacts=_refs_from_json(data["artifacts"]),
            foreach_stack=tuple(ForeachFrame.from_json(f) for f in data["foreach_stack"]),
        )


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
    #: They are JSON values (int, float, str, bool or a JSON document), as the run records them.
    parameters: dict[str, Any] = field(default_factory=dict)
    #: Parameters stored before the run (included files' content), given to start only.
    parameter_refs: dict[str, ArtifactRef] = field(default_factory=dict)
    parameter_names: frozenset[str] = frozenset()
    #: After this many seconds the executor kills the task process outright (@timeout).
    kill_after_seconds: float | None = None
    #: What the task asked for with @resources; executors that place tasks (Ray) request it.
    resources: Resources = field(default_factory=Resources)
    #: Blob of the run's code snapshot, from which other interpreters import the flow.
    code_hash: str | None = None
    #: `--with` step decorator specs (`name:key=value,...`) the task attaches to its step.
    with_decorators: tuple[str, ...] = ()
    #: Run the task in a new interpreter of its own rather than a fork of the warm worker,
    #: e.g. for a step that must not share the runner's imports or uses another environment.
    fresh_interpreter: bool = False
    #: The task's place in its `@parallel` gang; None outside a gang.
    parallel: Parallel | None = None

    @property
    def pathspec(self) -> str:
        return f"{self.flow_name}/{self.run_id}/{self.step_name}/{self.task_id}"

    @property
    def key(self) -> str:
        """A file-name-safe identity of this attempt."""
        return f"{self.step_name}.{self.task_id}.{self.attempt}"

    def to_json(self) -> dict[str, Any]:
        """A JSON document `from_json` turns back into an equal spec."""
        return {
            "flow_name": self.flow_name,
            "run_id": self.run_id,
            "step_name": self.step_name,
            "task_id": self.task_id,
            "attempt": self.attempt,
            "inputs": [task.to_json() for task in self.inputs],
            "foreach_stack": [frame.to_json() for frame in self.foreach_stack],
            "datastore_url": self.datastore_url,
            "username": self.username,
            "tags": sorted(self.tags),
            "origin_run_id": self.origin_run_id,
            "parameters": self.parameters,
            "parameter_refs": _refs_to_json(self.parameter_refs),
            "parameter_names": sorted(self.parameter_names),
            "kill_after_seconds": self.kill_after_seconds,
            "resources": {
                "cpu": self.resources.cpu,
                "memory": self.resources.memory,
                "gpu": self.resources.gpu,
            },
            "code_hash": self.code_hash,
            "with_decorators": list(self.with_decorators),
            "fresh_interpreter": self.fresh_interpreter,
            "parallel": self.parallel.to_json() if self.parallel else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskSpec:
        needed = data["resources"]
        return cls(
            flow_name=data["flow_name"],
            run_id=data["run_id"],
            step_name=data["step_name"],
            task_id=data["task_id"],
            attempt=int(data["attempt"]),
            inputs=tuple(InputTask.from_json(task) for task in data["inputs"]),
            foreach_stack=tuple(ForeachFrame.from_json(f) for f in data["foreach_stack"]),
            datastore_url=data["datastore_url"],
            username=data["username"],
            tags=frozenset(data["tags"]),
            origin_run_id=data["origin_run_id"],
            parameters=dict(data["parameters"]),
            parameter_refs=_refs_from_json(data["parameter_refs"]),
            parameter_names=frozenset(data["parameter_names"]),
            kill_after_seconds=data["kill_after_seconds"],
            resources=Resources(needed["cpu"], int(needed["memory"]), int(needed["gpu"])),
            code_hash=data["code_hash"],
            with_decorators=tuple(data["with_decorators"]),
            fresh_interpreter=bool(data["fresh_interpreter"]),
            parallel=Parallel.from_json(data["parallel"]) if data.get("parallel") else None,
        )


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
    #: Why the task's artifacts or logs could not be stored (a full disk, a read-only
    #: datastore): set, the failure is the datastore's, not the step's (see `storage_failed`).
    storage_error: str | None = None

    def storage_failed(self, error: DatastoreError) -> TaskResult:
        """This result, failed because the datastore refused what the task produced.

        Whatever the step did is kept in the error, followed by the datastore's one line.
        """
        line = f"{type(error).__name__}: {error}\n"
        return replace(
            self,
            outcome=Outcome.FAILED,
            artifacts={},
            error=(self.error or "") + line,
            storage_error=str(error),
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON document `from_json` turns back into an equal result."""
        return {
            "outcome": self.outcome.value,
            "artifacts": _refs_to_json(self.artifacts),
            "foreach_num_splits": self.foreach_num_splits,
            "error": self.error,
            "exit_code": self.exit_code,
            "stdout_hash": self.stdout_hash,
            "stderr_hash": self.stderr_hash,
            "host": self.host,
            "storage_error": self.storage_error,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskResult:
        return cls(
            outcome=Outcome(data["outcome"]),
            artifacts=_refs_from_json(data["artifacts"]),
            foreach_num_splits=data["foreach_num_splits"],
            error=data["error"],
            exit_code=data["exit_code"],
            stdout_hash=data["stdout_hash"],
            stderr_hash=data["stderr_hash"],
            host=data["host"],
            storage_error=data["storage_error"],
        )


def _refs_to_json(refs: dict[str, ArtifactRef]) -> dict[str, list[Any]]:
    # A list per ref, not an object: a fan-in join carries thousands of them.
    return {name: [ref.sha256, ref.type_name, ref.size, ref.encoding] for name, ref in refs.items()}


def _refs_from_json(data: dict[str, list[Any]]) -> dict[str, ArtifactRef]:
    return {
        name: ArtifactRef(sha256, type_name, int(size), encoding)
        for name, (sha256, type_name, size, encoding) in data.items()
    }
