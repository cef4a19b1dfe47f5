"""The flavor contract: how one kind of model is saved to bytes, loaded back and asked to predict.

A flavor is anything with these four methods and a name; nothing needs to inherit from a base
class. The registry stores `save(model)` as one content-addressed blob and records the flavor's
name beside it, so the version can be loaded wherever the flavor's library is installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from shipyard.exceptions import ShipyardError

if TYPE_CHECKING:
    import pandas

__all__ = ["Flavor", "FlavorError"]


class FlavorError(ShipyardError):
    """A model cannot be saved, loaded or scored by the flavor asked for (or by any)."""


@runtime_checkable
class Flavor(Protocol):
    """Save, load and score one kind of model."""

    name: str
    #: Modules (import names) whose releases the saved bytes depend on; recorded per version.
    libraries: tuple[str, ...]

    def matches(self, model: Any) -> bool:
        """Whether this flavor knows `model`'s type (used to pick a flavor automatically)."""
        ...

    def save(self, model: Any) -> bytes:
        """`model` as bytes that `load` turns back into an equivalent model."""
        ...

    def load(self, payload: bytes) -> Any:
        """The model `save` wrote."""
        ...

    def predict(self, model: Any, frame: pandas.DataFrame) -> Any:
        """The model's predictions for the rows of `frame` (one per row)."""
        ...
