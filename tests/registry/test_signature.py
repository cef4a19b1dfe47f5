"""Specification of signatures: inference, JSON round trip, and every way coercion refuses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shipyard.exceptions import ShipyardError
from shipyard.registry import ColumnSpec, Signature, SignatureError

SIGNATURE = Signature(
    inputs=[
        ColumnSpec("age", "integer"),
        ColumnSpec("score", "float"),
        ColumnSpec("member", "boolean"),
        ColumnSpec("city", "string"),
    ],
    output="float",
)


def good_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"age": [30, 41], "score": [0.5, 1.5], "member": [True, False], "city": ["Oslo", "Rome"]}
    )


def test_infer_reads_column_types_and_the_output_type() -> None:
    inferred = Signature.infer(good_frame(), np.array([0.1, 0.2]))
    assert inferred == SIGNATURE


@pytest.mark.parametrize(
    ("output", "dtype"),
    [
        (np.array([1, 0]), "integer"),
        (np.array([True, False]), "boolean"),
        (["a", "b"], "string"),
        (pd.Series([0.5, 0.25]), "float"),
    ],
)
def test_infer_names_the_output_type(output: object, dtype: str) -> None:
    assert Signature.infer(good_frame(), output).output == dtype


def test_infer_refuses_a_column_of_unsupported_values() -> None:
    frame = pd.DataFrame({"items": [[1, 2], [3]]})
    with pytest.raises(SignatureError, match="cannot infer the type of column 'items'"):
        Signature.infer(frame, [1, 2])


def test_json_round_trip_gives_an_equal_signature() -> None:
    assert Signature.from_json(SIGNATURE.to_json()) == SIGNATURE


def test_from_json_refuses_a_malformed_document() -> None:
    with pytest.raises(ValueError, match="not a signature document"):
        Signature.from_json({"inputs": [{"name": "a"}], "output": "float"})


def test_unknown_types_are_refused_when_declared() -> None:
    with pytest.raises(ValueError, match="unknown type 'double'"):
        ColumnSpec("a", "double")
    with pytest.raises(ValueError, match="unknown output type"):
        Signature([], output="tensor")


def test_signature_error_is_a_shipyard_error() -> None:
    assert issubclass(SignatureError, ShipyardError)


def test_coerce_reorders_columns_to_the_signature() -> None:
    shuffled = good_frame()[["city", "member", "score", "age"]]
    assert list(SIGNATURE.coerce(shuffled).columns) == ["age", "score", "member", "city"]


def test_coerce_converts_integers_to_floats_and_whole_floats_to_integers() -> None:
    frame = good_frame().assign(age=[30.0, 41.0], score=[1, 2])
    coerced = SIGNATURE.coerce(frame)
    assert coerced["age"].tolist() == [30, 41]
    assert coerced["age"].dtype == np.int64
    assert coerced["score"].tolist() == [1.0, 2.0]
    assert coerced["score"].dtype == np.float64


def test_coerce_converts_mixed_object_columns_value_by_value() -> None:
    frame = good_frame().assign(score=pd.Series([1, 2.5], dtype=object))
    assert SIGNATURE.coerce(frame)["score"].tolist() == [1.0, 2.5]


def test_coerce_treats_a_missing_float_as_nan() -> None:
    frame = good_frame().assign(score=pd.Series([None, 2.5], dtype=object))
    assert np.isnan(SIGNATURE.coerce(frame)["score"][0])


def test_a_missing_column_is_named() -> None:
    with pytest.raises(SignatureError, match="missing column\\(s\\): city"):
        SIGNATURE.coerce(good_frame().drop(columns=["city"]))


def test_an_unexpected_column_is_named() -> None:
    with pytest.raises(SignatureError, match="unexpected column\\(s\\): extra"):
        SIGNATURE.coerce(good_frame().assign(extra=1))


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("score", [0.5, "abc"], "column 'score', row 1: 'abc' is not a float"),
        ("score", [True, 0.5], "column 'score', row 0: True is not a float"),
        ("age", [30, 41.5], "column 'age', row 1: 41.5 is not an integer"),
        ("age", ["30", 41], "column 'age', row 0: '30' is not an integer"),
        ("age", [None, 41], "column 'age', row 0: None is not an integer"),
        ("age", [True, 41], "column 'age', row 0: True is not an integer"),
        ("member", [1, True], "column 'member', row 0: 1 is not a boolean"),
        ("city", ["Oslo", 7], "column 'city', row 1: 7 is not a string"),
    ],
)
def test_a_value_of_the_wrong_type_is_named_with_its_column_and_row(
    column: str, values: list[object], message: str
) -> None:
    frame = good_frame()
    frame[column] = pd.Series(values, dtype=object)
    with pytest.raises(SignatureError, match=message):
        SIGNATURE.coerce(frame)


def test_coerce_refuses_something_other_than_a_frame() -> None:
    with pytest.raises(SignatureError, match="expected a pandas DataFrame, not list"):
        SIGNATURE.coerce([[1, 2]])  # type: ignore[arg-type]


def test_coerce_passes_on_columns_already_of_their_type_in_the_signature_order() -> None:
    numeric = Signature(
        inputs=[ColumnSpec("age", "integer"), ColumnSpec("score", "float")], output="float"
    )
    frame = pd.DataFrame({"score": [0.5, np.nan], "age": [30, 41]})
    coerced = numeric.coerce(frame)
    assert list(coerced.columns) == ["age", "score"]
    assert [str(t) for t in coerced.dtypes] == ["int64", "float64"]
    assert coerced["age"].tolist() == [30, 41] and coerced["score"].isna().tolist() == [False, True]
