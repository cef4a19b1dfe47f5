"""What every client object shares: a pathspec as identity, the context it reads from, and
the parts of Metaflow's object model that follow from the pathspec (parent, tags)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Self, TypeVar

from shipyard.client.context import ClientContext
from shipyard.metadata.records import RunRecord, TaskRecord

__all__ = ["ClientObject", "RecordObject", "local_time"]

R = TypeVar("R", RunRecord, TaskRecord)


def local_time(moment: datetime) -> datetime:
    """`moment` as a naive datetime in the local time zone: what Metaflow's client returns.

    The stores keep aware UTC times; notebook code written for Metaflow compares client
    timestamps with `datetime.now()`, which only works with naive local ones.
    """
    return moment.astimezone().replace(tzinfo=None) if moment.tzinfo else moment


class ClientObject:
    """Base of `Flow`, `Run`, `Step`, `Task` and `DataArtifact`.

    Two objects are equal when they are of the same kind and name the same pathspec, so they
    can be compared, de-duplicated and used as dict keys whatever snapshot they hold.
    """

    _context: ClientContext

    @property
    def pathspec(self) -> str:
        """The object's name everywhere: CLI, client, UI and URLs."""
        raise NotImplementedError

    @property
    def path_components(self) -> list[str]:
        """The parts of the pathspec: `["TrainFlow", "12", "train", "3"]` for a task."""
        return self.pathspec.split("/")

    @property
    def parent(self) -> ClientObject | None:
        """The object one level up (a task's step, a step's run); None for a flow."""
        raise NotImplementedError

    @property
    def context(self) -> ClientContext:
        """The stores this object reads from (and hands to the objects it creates)."""
        return self._context

    # -- tags: a run's, seen from every object inside it (as in Metaflow) ------------------

    def _run_record(self) -> RunRecord | None:
        """The record of the run the object lies in; None for a flow, which has no tags."""
        raise NotImplementedError

    @property
    def user_tags(self) -> frozenset[str]:
        """The tags users gave the run (`--tag`, `add_tags`)."""
        run = self._run_record()
        return run.tags if run is not None else frozenset()

    @property
    def system_tags(self) -> frozenset[str]:
        """Tags Shipyard set itself (`user:<name>`, `flow:<name>`); they cannot be changed."""
        run = self._run_record()
        return run.system_tags if run is not None else frozenset()

    @property
    def tags(self) -> frozenset[str]:
        """All tags of the run, user and system ones together, as Metaflow's `tags` are:
        `"user:alice" in run.tags` tells who started it."""
        return self.user_tags | self.system_tags

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.pathspec!r})"

    def __eq__(self, other: Any) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return bool(self.pathspec == other.pathspec)

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.pathspec))


class RecordObject(ClientObject, Generic[R]):
    """A client object backed by one metadata record (a run or a task), read once."""

    _record: R

    @classmethod
    def _from_record(cls, record: R, context: ClientContext) -> Self:
        made = cls.__new__(cls)
        made._setup(record, context)
        return made

    def _setup(self, record: R, context: ClientContext) -> None:
        self._context = context
        self._record = record

    @property
    def pathspec(self) -> str:
        return self._record.pathspec

    @property
    def flow_name(self) -> str:
        return self._record.flow_name

    @property
    def record(self) -> R:
        """The metadata snapshot this object was built from (its times are aware, in UTC)."""
        return self._record

    @property
    def created_at(self) -> datetime:
        """When the object was created, as a naive local datetime (see `local_time`)."""
        return local_time(self._record.created_at)

    @property
    def finished_at(self) -> datetime | None:
        """When it ended, as a naive local datetime; None while it runs."""
        end = self._record.finished_at
        return None if end is None else local_time(end)
