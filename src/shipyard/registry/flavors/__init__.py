"""Model flavors: the built-in ones by name, and picking one for a model automatically.

Detection tries the specific flavors before the generic `python` one, and XGBoost before
scikit-learn, since XGBoost's estimators are scikit-learn estimators too.
"""

from __future__ import annotations

from typing import Any

from shipyard.registry.flavors.base import Flavor, FlavorContext, FlavorError
from shipyard.registry.flavors.python import PythonFlavor
from shipyard.registry.flavors.pytorch import PytorchFlavor
from shipyard.registry.flavors.sklearn import SklearnFlavor
from shipyard.registry.flavors.xgboost import XGBoostFlavor

__all__ = ["FLAVORS", "Flavor", "FlavorContext", "FlavorError", "detect_flavor", "get_flavor"]

FLAVORS: dict[str, Flavor] = {
    flavor.name: flavor
    for flavor in (XGBoostFlavor(), SklearnFlavor(), PytorchFlavor(), PythonFlavor())
}


def get_flavor(name: str) -> Flavor:
    """The flavor called `name`; `FlavorError` listing the known ones otherwise."""
    try:
        return FLAVORS[name]
    except KeyError:
        raise FlavorError(
            f"unknown model flavor {name!r}; use one of: {', '.join(FLAVORS)}"
        ) from None


def detect_flavor(model: Any) -> Flavor:
    """The first flavor that knows `model`; `FlavorError` if none does."""
    for flavor in FLAVORS.values():
        if flavor.matches(model):
            return flavor
    raise FlavorError(
        f"no flavor knows how to save a {type(model).__module__}.{type(model).__qualname__}: "
        f"register a scikit-learn, XGBoost or PyTorch model, or any object with a "
        f"predict(frame) method (flavor='python')"
    )
