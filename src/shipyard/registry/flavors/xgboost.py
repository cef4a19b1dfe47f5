"""The `xgboost` flavor: XGBoost models in XGBoost's own JSON format.

The native format (not pickle) stays loadable across XGBoost versions, which is what XGBoost
recommends for models that outlive their training environment. Loaded models predict on the
CPU; loading onto another device is refused rather than ignored. Both the scikit-learn API
(`XGBClassifier`, `XGBRegressor`, ...) and a bare `Booster` are supported; the payload records
which class to rebuild.

XGBoost records a model's feature names and types, so a model registered without an input
example still gets a signature (features of a model fitted on an array are named as XGBoost
names them, f0, f1, ...). XGBoost takes missing values natively, so they are allowed. A
model with categorical features has none: those need pandas' category type, which a JSON
request does not carry.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import TYPE_CHECKING, Any

from shipyard.registry.flavors.base import FlavorContext, FlavorError, check_cpu_only
from shipyard.registry.flavors.inputs import raised_in
from shipyard.registry.signature import ColumnSpec, Signature, dtype_of_values

if TYPE_CHECKING:
    import pandas

__all__ = ["XGBoostFlavor"]

_BOOSTER = "Booster"
# XGBoost's feature types: quantitative, indicator (boolean), integer, float.
_FEATURE_TYPES = {"q": "float", "float": "float", "int": "integer", "i": "boolean"}


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

    def signature_of(self, model: Any) -> Signature | None:
        import xgboost

        try:
            booster = model if isinstance(model, xgboost.Booster) else model.get_booster()
        except (AttributeError, ValueError):  # an estimator not fitted yet
            return None
        names = booster.feature_names or [f"f{i}" for i in range(booster.num_features())]
        types = booster.feature_types or ["float"] * len(names)
        if any(kind not in _FEATURE_TYPES for kind in types):
            return None
        classes = getattr(model, "classes_", None)
        return Signature(
            inputs=[ColumnSpec(n, _FEATURE_TYPES[t]) for n, t in zip(names, types, strict=True)],
            output="float" if classes is None else dtype_of_values(classes),
            allow_missing=True,
        )

    def refuses_input(self, error: BaseException) -> bool:
        return isinstance(error, ValueError | TypeError) and raised_in(error, "xgboost")
