"""The `sklearn` flavor: any scikit-learn estimator or pipeline, pickled.

Pickle is what scikit-learn itself documents for persistence; it ties a payload to compatible
library versions, which is why the registry records the flavor and the run's code beside it.
scikit-learn runs on the CPU: loading onto another device is refused.

A fitted estimator records its input columns (`feature_names_in_` when fitted on a frame,
only `n_features_in_` on an array: then the columns are named as scikit-learn names them,
x0, x1, ...), so a model registered without an input example still gets a signature. The
columns an encoder (`OneHotEncoder`, `OrdinalEncoder`) fitted take the type of its
categories; every other column is a number. Missing values are allowed where the estimator
says it takes them (its `allow_nan` tag).
"""

from __future__ import annotations

import pickle
import sys
from typing import TYPE_CHECKING, Any

from shipyard.datastore.unpickling import unpickle
from shipyard.registry.flavors.base import FlavorContext, check_cpu_only
from shipyard.registry.flavors.inputs import raised_in
from shipyard.registry.signature import ColumnSpec, Signature, SignatureError, dtype_of_values

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
        if getattr(model, "feature_names_in_", None) is None and hasattr(model, "n_features_in_"):
            # Fitted on an array: scored on one too, by position (the signature ordered the
            # columns), without scikit-learn's warning about names it never saw.
            return model.predict(frame.to_numpy())
        return model.predict(frame)

    def signature_of(self, model: Any) -> Signature | None:
        from sklearn.utils import get_tags

        names = getattr(model, "feature_names_in_", None)
        count = getattr(model, "n_features_in_", None)
        if names is not None:
            columns = [str(name) for name in names]
        elif isinstance(count, int):
            columns = [f"x{index}" for index in range(count)]
        else:
            return None  # not fitted, or an estimator that does not record its inputs
        encoded = _encoded_column_types(model)
        classes = getattr(model, "classes_", None)
        try:
            allow_missing = bool(get_tags(model).input_tags.allow_nan)
        except (AttributeError, TypeError, ValueError):  # an estimator with broken tags
            allow_missing = True  # unknown: let the estimator decide, as without a signature
        return Signature(
            inputs=[ColumnSpec(name, encoded.get(name, "float")) for name in columns],
            output="float" if classes is None else _values_dtype(classes, "float"),
            allow_missing=allow_missing,
        )

    def refuses_input(self, error: BaseException) -> bool:
        from sklearn.exceptions import NotFittedError

        # An unfitted model is the server's fault, whatever the input.
        return (
            isinstance(error, ValueError | TypeError)
            and not isinstance(error, NotFittedError)
            and raised_in(error, "sklearn")
        )


def _encoded_column_types(model: Any) -> dict[str, str]:
    """The type of each column that an encoder at the start of `model` was fitted on."""
    from sklearn.compose import ColumnTransformer

    first = _first_step(model)
    if isinstance(first, ColumnTransformer):
        parts = [(transformer, columns) for _, transformer, columns in first.transformers_]
    else:
        parts = [(first, getattr(first, "feature_names_in_", []))]
    types: dict[str, str] = {}
    for transformer, columns in parts:
        categories = getattr(_first_step(transformer), "categories_", None)
        if categories is None or isinstance(columns, str) or not hasattr(columns, "__iter__"):
            continue
        for column, values in zip(columns, categories, strict=False):
            if isinstance(column, str):
                types[column] = _values_dtype(values, "string")
    return types


def _first_step(model: Any) -> Any:
    from sklearn.pipeline import Pipeline

    while isinstance(model, Pipeline):
        model = model.steps[0][1]
    return model


def _values_dtype(values: Any, default: str) -> str:
    """The type of an array of categories or classes (missing ones left out)."""
    present = [value for value in values if value is not None and value == value]
    try:
        return dtype_of_values(present) if present else default
    except SignatureError:
        return default
