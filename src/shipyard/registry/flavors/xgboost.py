"""The `xgboost` flavor: XGBoost models in XGBoost's own JSON format.

The native format (not pickle) stays loadable across XGBoost versions, which is what XGBoost
recommends for models that outlive their training environment. Loaded models predict on the
CPU; loading onto another device is refused rather than ignored. Both the scikit-learn API
(`XGBClassifier`, `XGBRegressor`, ...) and a bare `Booster` are supported; the payload records
which class to rebuild.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import TYPE_CHECKING, Any

from shipyard.registry.flavors.base import FlavorContext, FlavorError, check_cpu_only

if TYPE_CHECKING:
    import pandas

__all__ = ["XGBoostFlavor"]

_BOOSTER = "Booster"


class XGBoostFlavor:
    """`xgboost.Booster` and the `xgboost.XGBModel` family, saved with `save_model` as JSON."""

    name = "xgboost"
    #: Modules whose release is recorded with each version and checked when it loads.
    libraries: tuple[str, ...] = ("xgboost",)

    def matches(self, model: Any) -> bool:
        if "xgboost" not in sys.modules:
            return False
        import xgboost

        return isinstance(model, xgboost.Booster | xgboost.XGBModel)

    def save(self, model: Any, context: FlavorContext) -> bytes:
        import xgboost

        if isinstance(model, xgboost.Booster):
            kind = _BOOSTER
        elif isinstance(model, xgboost.XGBModel):
            kind = type(model).__name__
            if getattr(xgboost, kind, None) is not type(model):
                raise FlavorError(
                    f"the xgboost flavor saves XGBoost's own model classes, not the subclass "
                    f"{type(model).__qualname__}; register it with flavor='python'"
                )
        else:
            raise FlavorError(f"not an XGBoost model: {type(model).__name__}")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.json")
            model.save_model(path)
            with open(path, encoding="utf-8") as fh:
                native = fh.read()
        return json.dumps({"class": kind, "model": native}).encode()

    def load(self, payload: bytes, context: FlavorContext) -> Any:
        check_cpu_only(self.name, context)
        import xgboost

        document = json.loads(payload)
        kind = document["class"]
        model = xgboost.Booster() if kind == _BOOSTER else getattr(xgboost, kind)()
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.json")
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(document["model"])
            model.load_model(path)
        return model

    def predict(self, model: Any, frame: pandas.DataFrame) -> Any:
        import xgboost

        if isinstance(model, xgboost.Booster):
            return model.predict(xgboost.DMatrix(frame))
        return model.predict(frame)
