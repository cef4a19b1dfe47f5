"""A model registered without an input example gets the signature its library records, and
what the library's own input checks refuse is the caller's fault (`InputRefused`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xgboost
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from shipyard.registry import ColumnSpec, ModelRegistry, Signature, SignatureError
from shipyard.registry.signature import InputRefused


def _people(rows: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 90, size=rows),
            "income": rng.normal(50_000, 10_000, size=rows),
            "city": rng.choice(["Oslo", "Rome"], size=rows),
        }
    )


def _city_pipeline() -> object:
    frame = _people()
    columns = ColumnTransformer(
        [("numbers", StandardScaler(), ["age", "income"]), ("city", OneHotEncoder(), ["city"])]
    )
    return make_pipeline(columns, LogisticRegression()).fit(frame, frame["age"] > 50)


def test_a_pipeline_fitted_on_a_frame_records_its_columns_and_the_encoded_ones_types(
    registry: ModelRegistry,
) -> None:
    version = registry.register("loans", _city_pipeline())

    assert version.signature is not None
    assert version.signature.inputs == [
        ColumnSpec("age", "float"),
        ColumnSpec("income", "float"),
        ColumnSpec("city", "string"),
    ]
    assert version.signature.output == "boolean"
    assert not version.signature.allow_missing  # LogisticRegression takes no NaN
    assert registry.load("loans").predict(_people(3).astype({"age": float})) is not None


def test_an_estimator_fitted_on_an_array_names_its_columns_as_scikit_learn_does(
    registry: ModelRegistry,
) -> None:
    model = LinearRegression().fit(np.arange(20.0).reshape(10, 2), np.arange(10.0))

    version = registry.register("plain", model)

    assert version.signature is not None
    assert version.signature.column_names == ["x0", "x1"]
    assert registry.load("plain").predict(pd.DataFrame({"x1": [3.0], "x0": [2.0]})) == (
        pytest.approx([1.0])
    )


def test_missing_values_are_allowed_where_the_estimator_takes_them(
    registry: ModelRegistry,
) -> None:
    frame = pd.DataFrame({"x": np.arange(30.0)})
    version = registry.register("hist", HistGradientBoostingRegressor().fit(frame, frame["x"]))

    assert version.signature is not None and version.signature.allow_missing
    assert len(registry.load("hist").predict(pd.DataFrame({"x": [None, 1.0]}))) == 2


def test_an_input_example_decides_the_types_and_the_model_whether_missing_values_pass(
    registry: ModelRegistry,
) -> None:
    frame = pd.DataFrame({"x1": np.arange(10.0), "x2": np.arange(10)})
    version = registry.register(
        "lin", LinearRegression().fit(frame, frame["x1"]), input_example=frame
    )

    assert version.signature is not None
    assert version.signature.inputs == [ColumnSpec("x1", "float"), ColumnSpec("x2", "integer")]
    with pytest.raises(SignatureError, match="column 'x1', row 1: a missing value"):
        registry.load("lin").predict(pd.DataFrame({"x1": [1.0, None], "x2": [1, 2]}))


def test_xgboost_records_feature_names_and_types(registry: ModelRegistry) -> None:
    frame = pd.DataFrame({"n": [1, 2, 3, 4], "x": [0.5, 1.5, 2.5, 3.5], "b": [True, False] * 2})
    named = xgboost.XGBRegressor(n_estimators=2).fit(frame, [1.0, 2.0, 3.0, 4.0])
    unnamed = xgboost.XGBClassifier(n_estimators=2).fit(frame.to_numpy(float), [0, 1, 0, 1])

    first = registry.register("boost", named)
    second = registry.register("boosted", unnamed)

    assert first.signature is not None and second.signature is not None
    assert first.signature.inputs == [
        ColumnSpec("n", "integer"),
        ColumnSpec("x", "float"),
        ColumnSpec("b", "boolean"),
    ]
    assert first.signature.allow_missing  # XGBoost takes missing values natively
    assert second.signature.column_names == ["f0", "f1", "f2"]
    assert second.signature.output == "integer"
    rows = pd.DataFrame({"n": [1], "x": [None], "b": [True]})
    assert len(registry.load("boost").predict(rows)) == 1


def test_what_the_library_refuses_is_input_refused_a_signature_error(
    registry: ModelRegistry,
) -> None:
    registry.register("loans", _city_pipeline())
    rows = pd.DataFrame({"age": [30.0], "income": [1.0], "city": ["Paris"]})

    with pytest.raises(InputRefused, match="loans/1 refused the input: Found unknown categor"):
        registry.load("loans").predict(rows)
    assert issubclass(InputRefused, SignatureError)


def _broken(frame: pd.DataFrame) -> pd.DataFrame:
    raise ValueError("a bug in the model's own code")


def test_an_error_of_the_models_own_code_is_not_the_callers_fault(
    registry: ModelRegistry,
) -> None:
    frame = pd.DataFrame({"x": np.arange(10.0)})
    model = make_pipeline(FunctionTransformer(), LinearRegression()).fit(frame, frame["x"])
    model.steps[0][1].func = _broken
    registry.register("buggy", model)

    with pytest.raises(ValueError, match="a bug in the model's own code") as raised:
        registry.load("buggy").predict(frame)
    assert not isinstance(raised.value, SignatureError)


def test_what_xgboost_refuses_is_input_refused(registry: ModelRegistry) -> None:
    frame = pd.DataFrame({"n": [1, 2, 3, 4], "x": [0.5, 1.5, 2.5, 3.5]})
    model = xgboost.XGBRegressor(n_estimators=2).fit(frame, [1.0, 2.0, 3.0, 4.0])
    # A signature that leaves a feature out lets the frame reach XGBoost's own check.
    registry.register("boost", model, signature=Signature([ColumnSpec("n", "integer")]))

    with pytest.raises(InputRefused, match=r"boost/1 refused the input: .*feature"):
        registry.load("boost").predict(frame[["n"]])
