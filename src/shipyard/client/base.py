"""What every client object shares: a pathspec as identity, and the context it reads from."""

from __future__ import annotations

from typing import Any, Generic, Self, TypeVar

from shipyard.client.context import ClientContext
from shipyard.metadata.records import RunRecord, TaskRecord

__all__ = ["ClientObject", "RecordObject"]

R = TypeVar("R", RunRecord, TaskRecord)


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
    def context(self) -> ClientContext:
        """The stores this object reads from (and hands to the objects it creates)."""
        return self._context

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
        """The metadata snapshot this object was built from."""
        return self._record
