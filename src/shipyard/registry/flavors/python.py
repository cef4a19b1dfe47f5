"""The `python` flavor: any picklable object with a `predict(frame)` method.

The way in for models no other flavor knows (a rules engine, an ensemble of flavors, a
wrapper adding pre-processing); the class must be importable wherever the model is loaded, or
defined in the flow file of the run that registered it (found again in the run's code
snapshot). Such models run on the CPU: loading onto another device is refused.
"""

from __future__ import annotations

import pickle
from typing import TYPE_CHECKING, Any

from shipyard.datastore.unpickling import unpickle
from shipyard.registry.flavors.base import FlavorContext, FlavorError, check_cpu_only

if TYPE_CHECKING:
    import pandas

__all__ = ["PythonFlavor"]


class PythonFlavor:
    """Objects with a callable `predict`, pickled."""

    name = "python"
    #: Modules whose release is recorded with each version and checked when it loads.
    libraries: tuple[str, ...] = ()

    def matches(self, model: Any) -> bool:
        return callable(getattr(model, "predict", None))

    def save(self, model: Any, context: FlavorContext) -> bytes:
        if not self.matches(model):
            raise FlavorError(
                f"the python flavor needs an object with a predict(frame) method; "
                f"{type(model).__name__} has none"
            )
        try:
            return pickle.dumps(model, protocol=5)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise FlavorError(
                f"cannot pickle the {type(model).__name__} model: {exc}. Define its class at "
                "module level (not inside a function), in the flow file or an importable module."
            ) from exc

    def load(self, payload: bytes, context: FlavorContext) -> Any:
        check_cpu_only(self.name, context)
        return unpickle(payload, flow_classes=context.flow_classes)

    def predict(self, model: Any, frame: pandas.DataFrame) -> Any:
        return model.predict(frame)
