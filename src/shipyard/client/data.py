"""A task's artifacts as the client sees them: `DataArtifact`s and the `task.data` namespace.

Artifacts are listed from the metadata store (names, types, sizes, hashes) without touching
the datastore; a value is read from its blob only when `.data` is first accessed, so browsing
a task that holds a 10 GiB array costs nothing until the array is asked for. A value holding
a class defined in the flow file is rebuilt with that class from the run's code snapshot, and
one holding CUDA tensors is read onto the CPU where no GPU is visible.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shipyard.client.base import ClientObject
from shipyard.client.context import ClientContext, current_context
from shipyard.client.namespaces import check_namespace
from shipyard.client.pathspec import parse_pathspec
from shipyard.exceptions import ArtifactNotFound

if TYPE_CHECKING:
    from shipyard.client.objects import Task
    from shipyard.datastore import FlowClasses, LazyArtifact
    from shipyard.datastore.refs import ArtifactRef
    from shipyard.metadata.records import ArtifactRecord, RunRecord

__all__ = ["DataArtifact", "TaskArtifacts", "TaskData", "missing_artifact"]


class DataArtifact(ClientObject):
    """One named artifact of a task: `DataArtifact("TrainFlow/12/train/3/model")`.

    Its metadata (`sha`, `type_name`, `size`) is at hand at once; `data` loads the value.
    """

    def __init__(self, pathspec: str, *, context: ClientContext | None = None) -> None:
        flow_name, run_id, step_name, task_id, name = parse_pathspec(pathspec, "DataArtifact")
        context = context or current_context()
        run = context.metadata.get_run(flow_name, run_id)
        check_namespace(run, pathspec)
        task_pathspec = f"{flow_name}/{run_id}/{step_name}/{task_id}"
        records = context.metadata.task_artifacts(flow_name, run_id, step_name, task_id)
        if name not in records:
            raise missing_artifact(task_pathspec, name, records)
        self._setup(task_pathspec, records[name], context)

    @classmethod
    def from_record(
        cls, task_pathspec: str, record: ArtifactRecord, context: ClientContext
    ) -> DataArtifact:
        """An artifact of a task already looked up; how `Task` builds its artifacts.

        Users construct artifacts from pathspecs instead; this skips the lookups and the
        namespace check that the task passed already.
        """
        artifact = cls.__new__(cls)
        artifact._setup(task_pathspec, record, context)
        return artifact

    def _setup(self, task_pathspec: str, record: ArtifactRecord, context: ClientContext) -> None:
        self._context = context
        self._task_pathspec = task_pathspec
        self._record = record
        self._lazy: LazyArtifact | None = None

    @property
    def id(self) -> str:
        """The artifact's name."""
        return self._record.name

    @property
    def name(self) -> str:
        """The artifact's name (the attribute the step assigned)."""
        return self._record.name

    @property
    def pathspec(self) -> str:
        return f"{self._task_pathspec}/{self._record.name}"

    @property
    def task_pathspec(self) -> str:
        """The pathspec of the task that produced the artifact."""
        return self._task_pathspec

    @property
    def parent(self) -> Task:
        """The task that produced the artifact."""
        from shipyard.client.objects import Task

        flow_name, run_id, step_name, task_id = self._task_pathspec.split("/")
        record = self._context.metadata.get_task(flow_name, run_id, step_name, task_id)
        return Task._from_record(record, self._context)

    def _run_record(self) -> RunRecord:
        flow_name, run_id = self._task_pathspec.split("/")[:2]
        return self._context.metadata.get_run(flow_name, run_id)

    @property
    def created_at(self) -> datetime | None:
        """When the value was recorded: when the task that produced it finished (naive,
        local time, as in Metaflow)."""
        return self.parent.finished_at

    @property
    def finished_at(self) -> datetime | None:
        """The same as `created_at`: an artifact is recorded whole, once (as in Metaflow)."""
        return self.created_at

    @property
    def origin_pathspec(self) -> str | None:
        """This artifact in the task the producing task was cloned from by `resume`, if it
        was."""
        origin = self.parent.origin_pathspec
        return None if origin is None else f"{origin}/{self.name}"

    @property
    def ref(self) -> ArtifactRef:
        """Where the value is stored; enough to load it with an `ArtifactStore`."""
        return self._record.ref

    @property
    def sha(self) -> str:
        """The sha256 of the stored bytes: equal hashes mean equal values."""
        return self._record.ref.sha256

    @property
    def type_name(self) -> str:
        """The fully qualified Python type of the value, readable without loading it."""
        return self._record.ref.type_name

    @property
    def size(self) -> int:
        """The size in bytes of the stored value."""
        return self._record.ref.size

    @property
    def attempt(self) -> int:
        """The attempt of the task that produced the value."""
        return self._record.attempt

    @property
    def is_loaded(self) -> bool:
        """Whether `data` was read already, so that accessing it again is free."""
        return self._lazy is not None and self._lazy.is_loaded

    @property
    def data(self) -> Any:
        """The value, read from the datastore on first access and verified against its hash."""
        if self._lazy is None:
            from shipyard.datastore import LazyArtifact

            classes = self._flow_classes()
            self._lazy = LazyArtifact(self._context.artifacts, self._record.ref, classes)
        return self._lazy.value

    def _flow_classes(self) -> FlowClasses:
        """The classes of the producing run's flow file, from its code snapshot.

        The run's code hash is looked up only if the value holds such a class.
        """
        from shipyard.datastore import FlowClasses

        flow_name, run_id = self._task_pathspec.split("/")[:2]
        metadata = self._context.metadata
        return FlowClasses(
            self._context.blobs,
            f"{flow_name}/{run_id}",
            lambda: metadata.get_run(flow_name, run_id).code_hash,
        )


class TaskArtifacts:
    """A task's `DataArtifact`s, sorted by name: `task.artifacts.model.data`, iteration over
    the artifacts themselves (Metaflow's named tuple), and `task.artifacts["model"]`.

    Missing names raise `ArtifactNotFound`, listing the names that exist.
    """

    __slots__ = ("_by_name", "_pathspec")

    def __init__(self, task_pathspec: str, artifacts: Sequence[DataArtifact]) -> None:
        self._pathspec = task_pathspec
        self._by_name = {artifact.name: artifact for artifact in artifacts}

    @property
    def by_name(self) -> Mapping[str, DataArtifact]:
        """The artifacts as a mapping from name to artifact."""
        return self._by_name

    def __getattr__(self, name: str) -> DataArtifact:
        if name.startswith("__") or name in TaskArtifacts.__slots__:
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, key: str | int) -> DataArtifact:
        """The artifact named `key`, or at position `key` as in a tuple."""
        if isinstance(key, int):
            return list(self._by_name.values())[key]
        artifact = self._by_name.get(key)
        if artifact is None:
            raise missing_artifact(self._pathspec, key, self._by_name)
        return artifact

    def __contains__(self, item: object) -> bool:
        """Whether there is an artifact of that name (or that artifact)."""
        if isinstance(item, DataArtifact):
            return item in self._by_name.values()
        return item in self._by_name

    def __iter__(self) -> Iterator[DataArtifact]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def __eq__(self, other: object) -> bool:
        """Equal to the same artifacts, or to a mapping of the same names to them
        (`task.artifacts == {}` for a task that recorded none)."""
        if isinstance(other, TaskArtifacts):
            return self._by_name == other._by_name
        if isinstance(other, Mapping):
            return self._by_name == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable-looking, like the dict it replaces

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self._by_name})

    def __repr__(self) -> str:
        return f"<TaskArtifacts {self._pathspec}: {', '.join(self._by_name) or 'none'}>"


class TaskData:
    """A task's artifacts as attributes: `task.data.score`, loaded on first access.

    `hasattr(task.data, "score")` tells whether the artifact exists; a missing name raises
    `ArtifactNotFound` listing the names that do.
    """

    __slots__ = ("_artifacts", "_pathspec")

    def __init__(self, task_pathspec: str, artifacts: Mapping[str, DataArtifact]) -> None:
        self._pathspec = task_pathspec
        self._artifacts = dict(artifacts)

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails. Dunder names belong to Python protocols
        # (copy, pickle, IPython display) and must fail plainly, never read a blob.
        if name.startswith("__") or name in TaskData.__slots__:
            raise AttributeError(name)
        artifact = self._artifacts.get(name)
        if artifact is None:
            raise missing_artifact(self._pathspec, name, self._artifacts)
        return artifact.data

    def __contains__(self, name: object) -> bool:
        return name in self._artifacts

    def __iter__(self) -> Iterator[str]:
        """The artifact names, sorted."""
        return iter(sorted(self._artifacts))

    def __len__(self) -> int:
        return len(self._artifacts)

    def __dir__(self) -> list[str]:
        # Lets notebooks tab-complete artifact names.
        return sorted({*super().__dir__(), *self._artifacts})

    def __repr__(self) -> str:
        return (
            f"<TaskData {self._pathspec}: {', '.join(sorted(self._artifacts)) or 'no artifacts'}>"
        )


def missing_artifact(
    task_pathspec: str, name: str, available: Mapping[str, Any]
) -> ArtifactNotFound:
    """The error for an artifact `name` that task `task_pathspec` does not have."""
    if available:
        listing = f"its artifacts are: {', '.join(sorted(available))}"
    else:
        listing = "it has no artifacts (a task records artifacts only once it succeeds)"
    return ArtifactNotFound(f"task '{task_pathspec}' has no artifact {name!r}; {listing}")
