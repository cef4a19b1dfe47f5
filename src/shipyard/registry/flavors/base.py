"""The flavor contract: how one kind of model is saved to bytes, loaded back and asked to predict.

A flavor is anything with these four methods and a name; nothing needs to inherit from a base
class. The registry stores `save(model, context)` as one content-addressed blob and records the
flavor's name beside it, so the version can be loaded wherever the flavor's library is
installed. What a flavor needs to know beyond the model and its bytes comes in one
`FlavorContext`: the classes of the flow file the model came from, and the device to load to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from shipyard.exceptions import ShipyardError

if TYPE_CHECKING:
    import pandas

    from shipyard.datastore.flow_classes import FlowClasses

__all__ = ["Flavor", "FlavorContext", "FlavorError", "check_cpu_only"]


class FlavorError(ShipyardError):
    """A model cannot be saved, loaded or scored by the flavor asked for (or by any)."""


@dataclass(frozen=True)
class FlavorContext:
    """Where a model is saved from or loaded into, beyond the model and its bytes."""

    #: The classes of the flow file of the run the model comes from (its lineage has a code
    #: snapshot), so that a class defined in the flow file can be recorded and found again.
    flow_classes: FlowClasses | None = None
    #: The device to load the model onto (`"cuda"`, `"cuda:1"`); None means the CPU.
    device: str | None = None


def check_cpu_only(flavor: str, context: FlavorContext) -> None:
    """Refuse a device other than the CPU for a flavor whose models run on the CPU only.

    Ignoring it would leave a caller who asked for a GPU scoring on the CPU unawares.
    """
    if context.device is not None and context.device != "cpu":
        raise FlavorError(
            f"the {flavor} flavor loads models onto the CPU only, not onto {context.device!r}; "
            "load it without a device (or device='cpu')"
        )


@runtime_checkable
class Flavor(Protocol):
    """Save, load and score one kind of model."""

    name: str
    #: Modules (import names) whose releases the saved bytes depend on; recorded per version.
    libraries: tuple[str, ...]

    def matches(self, model: Any) -> bool:
        """Whether this flavor knows `model`'s type (used to pick a flavor automatically)."""
        ...

    def save(self, model: Any, context: FlavorContext) -> bytes:
        """`model` as bytes that `load` turns back into an equivalent model."""
        ...

    def load(self, payload: bytes, context: FlavorContext) -> Any:
        """The model `save` wrote, on `context.device` (refused if the flavor cannot)."""
        ...

    def predict(self, model: Any, frame: pandas.DataFrame) -> Any:
        """The model's predictions for the rows of `frame` (one per row)."""
        ...
