"""The contract between a flow object and the task running it: artifacts in, transitions out.

The runtime implements `ArtifactScope`; `bind_scope`, `scope_of` and `stored_values` are the
only ways in or out of a flow object's task state, so no module touches its private parts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from shipyard.datastore.refs import ArtifactRef

SCOPE_KEY = "_scope"


@dataclass(frozen=True)
class Transition:
    """What a step's `self.next(...)` asked for when it ran."""

    targets: tuple[str, ...]
    foreach: str | None = None
    #: For `self.next({...}, condition="x")`: the artifact whose value chooses.
    condition: str | None = None
    #: For `self.next(self.train, num_parallel=N)`: the size of the gang.
    num_parallel: int | None = None


class ArtifactSource(Protocol):
    """One upstream task's artifacts, as a join step's inputs read them."""

    def names(self) -> Iterable[str]: ...
    def ref(self, name: str) -> ArtifactRef: ...
    def load(self, name: str) -> Any: ...
    @property
    def index(self) -> int | None: ...
    @property
    def input(self) -> Any: ...


class ArtifactScope(Protocol):
    """What a running task provides to its flow object."""

    parameter_names: frozenset[str]

    def load(self, name: str) -> Any: ...
    def has(self, name: str) -> bool: ...
    def names(self) -> Iterable[str]: ...
    def inherit_ref(self, name: str, ref: ArtifactRef) -> None: ...
    def record_next(self, transition: Transition) -> None: ...
    def note_assigned(self, name: str) -> None: ...
    @property
    def index(self) -> int | None: ...
    @property
    def input(self) -> Any: ...
    def foreach_stack(self) -> list[tuple[int, int, Any]]: ...


def bind_scope(flow: Any, scope: ArtifactScope) -> None:
    """Attach a running task to a flow object (bypassing its artifact bookkeeping)."""
    object.__setattr__(flow, SCOPE_KEY, scope)


def scope_of(flow: Any) -> ArtifactScope | None:
    scope: ArtifactScope | None = flow.__dict__.get(SCOPE_KEY)
    return scope


def stored_values(flow: Any) -> dict[str, Any]:
    """The public attributes a step left on the flow object: what becomes its artifacts."""
    return {k: v for k, v in flow.__dict__.items() if not k.startswith("_")}
