"""The `sklearn` flavor: any scikit-learn estimator or pipeline, pickled.

Pickle is what scikit-learn itself documents for persistence; it ties a payload to compatible
library versions, which is why the registry records the flavor and the run's code beside it.
scikit-learn runs on the CPU: loading onto another device is refused.
"""

from __future__ import annotations

import pickle
import sys
from typing import TYPE_CHECKING, Any

from shipyard.datastore.unpickling import unpickle
from shipyard.registry.flavors.base import FlavorContext, check_cpu_only

if TYPE_CHECKING:
    import pandas

__all__ = ["SklearnFlavor"]


class SklearnFlavor:
    """scikit-learn estimators (`BaseEstimator`), saved with pickle protocol 5."""

    name = "sklearn"
    #: Modules whose release is recorded with each version and checked when it loads.
    libraries: tuple[str, ...] = ("sklearn",)

    def matches(self, model: Any) -> bool:
        # An estimator's class is defined in sklearn, so sklearn is loaded if `model` is one;
        # checking sys.modules first keeps detection from importing it for other models.
        if "sklearn" not in sys.modules:
            return False
        from sklearn.base import BaseEstimator

        return isinstance(model, BaseEstimator)

    def save(self, model: Any, context: FlavorContext) -> bytes:
        return pickle.dumps(model, protocol=5)

    def load(self, payload: bytes, context: FlavorContext) -> Any:
        check_cpu_only(self.name, context)
        return unpickle(payload, flow_classes=context.flow_classes)

    def predict(self, model: Any, frame: pandas.DataFrame) -> Any:
        return model.predict(frame)
