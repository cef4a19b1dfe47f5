"""Model signatures: the input columns (names and types) a model expects and its output type.

A signature is inferred from an example input when a model is registered, or given, and is
enforced before every prediction: `Signature.coerce` turns a frame from a caller (a JSON body,
a parquet file) into exactly the columns, order and types the model was trained on, or raises
a `SignatureError` that names the column, row and value at fault. Four portable types are
enough for tabular models and survive JSON: integer, float, boolean and string.

A float column may hold missing values (JSON null, NaN) unless the signature says the model
takes none (`allow_missing=False`, inferred where the model library says so): then a missing
value is refused here, naming where it is, instead of failing deep inside the model. Values
no model can take are always refused: infinities (`Infinity`, `1e400`) and integers outside
the 64-bit range.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shipyard.exceptions import ShipyardError

if TYPE_CHECKING:
    import pandas

__all__ = [
    "DTYPES",
    "ColumnSpec",
    "InputRefused",
    "Signature",
    "SignatureError",
    "dtype_of_values",
]

DTYPES = ("integer", "float", "boolean", "string")


class SignatureError(ShipyardError):
    """Input does not match a model's signature; the message names what is wrong where."""


class InputRefused(SignatureError):
    """The model library's own checks refused the input (a column it does not know, a
    string where it needs a number): the caller's fault, like any other signature error."""


@dataclass(frozen=True)
class ColumnSpec:
    """One input column: its name and one of `DTYPES`."""

    name: str
    dtype: str

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(
                f"column {self.name!r}: unknown type {self.dtype!r}; use one of {', '.join(DTYPES)}"
            )


@dataclass(frozen=True)
class Signature:
    """What a model takes (`inputs`, in order) and what it returns (`output`, one of DTYPES).

    `allow_missing` says whether float columns may hold missing values (null, NaN).
    """

    inputs: list[ColumnSpec] = field(default_factory=list)
    output: str = "float"
    allow_missing: bool = True

    def __post_init__(self) -> None:
        if self.output not in DTYPES:
            raise ValueError(f"unknown output type {self.output!r}; use one of {', '.join(DTYPES)}")
        names = [column.name for column in self.inputs]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise ValueError(f"input columns appear more than once: {', '.join(duplicated)}")

    @property
    def column_names(self) -> list[str]:
        """The input column names, in the order the model expects them."""
        return [column.name for column in self.inputs]

    # -------------------------------------------------------------------------- building

    @classmethod
    def infer(
        cls, example_frame: pandas.DataFrame, model_output: Any, *, allow_missing: bool = True
    ) -> Signature:
        """The signature of a model that turned `example_frame` into `model_output`.

        Missing values are allowed when `allow_missing` says the model takes them, and also
        when the example itself holds some: the model has just predicted on them.
        """
        import pandas

        if not isinstance(example_frame, pandas.DataFrame):
            raise SignatureError(
                f"an input example must be a pandas DataFrame, not {type(example_frame).__name__}"
            )
        inputs = [
            ColumnSpec(str(name), _dtype_of(example_frame[name], str(name)))
            for name in example_frame.columns
        ]
        floats = [spec.name for spec in inputs if spec.dtype == "float"]
        holds_missing = bool(floats) and bool(example_frame[floats].isna().to_numpy().any())
        return cls(
            inputs=inputs,
            output=dtype_of_values(model_output),
            allow_missing=allow_missing or holds_missing,
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-able document; `from_json` reads it back."""
        document: dict[str, Any] = {
            "inputs": [{"name": c.name, "type": c.dtype} for c in self.inputs],
            "output": self.output,
        }
        if not self.allow_missing:  # documents written before the flag existed allow them
            document["allow_missing"] = False
        return document

    def row_schema(self) -> dict[str, Any]:
        """The JSON Schema of one input row (an object with every column), for API docs."""
        return {
            "type": "object",
            "properties": {spec.name: self._value_schema(spec) for spec in self.inputs},
            "required": self.column_names,
            "additionalProperties": False,
        }

    def _value_schema(self, spec: ColumnSpec) -> dict[str, Any]:
        """The JSON Schema of one value of the column `spec`."""
        schema = dict(_JSON_SCHEMAS[spec.dtype])
        if spec.dtype == "float" and self.allow_missing:
            return {"anyOf": [schema, {"type": "null"}]}
        return schema

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Signature:
        """The signature `to_json` wrote; raises `ValueError` on a malformed document."""
        try:
            inputs = [ColumnSpec(str(c["name"]), str(c["type"])) for c in data["inputs"]]
            allow_missing = bool(data.get("allow_missing", True))
            return cls(inputs=inputs, output=str(data["output"]), allow_missing=allow_missing)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a signature document: {data!r} ({exc})") from exc

    # -------------------------------------------------------------------------- enforcing

    def coerce(self, frame: pandas.DataFrame) -> pandas.DataFrame:
        """`frame` with the signature's columns, in its order, converted to its types.

        Compatible values are converted (an integer where a float is expected, 3.0 where an
        integer is); anything else raises `SignatureError` naming the missing or unexpected
        columns, or the column, row (0-based position) and value that does not fit, including
        a missing float the signature does not allow and an infinity. A frame that fits
        already is returned as it is (not copied: this runs before every prediction).
        """
        import pandas

        if not isinstance(frame, pandas.DataFrame):
            raise SignatureError(f"expected a pandas DataFrame, not {type(frame).__name__}")
        expected = self.column_names
        given = [str(c) for c in frame.columns]
        missing = [name for name in expected if name not in given]
        unexpected = [name for name in given if name not in expected]
        if missing or unexpected:
            problems = []
            if missing:
                problems.append(f"missing column(s): {', '.join(missing)}")
            if unexpected:
                problems.append(f"unexpected column(s): {', '.join(unexpected)}")
            raise SignatureError(
                f"{'; '.join(problems)}; the model expects {', '.join(expected) or 'no columns'}"
            )
        # Relabelling costs a new frame; columns named by strings already need none.
        renamed = frame if given == list(frame.columns) else frame.set_axis(given, axis=1)
        if self._holds_exact_dtypes(renamed):
            # Nothing to convert: converting each column to the dtype it has already and
            # building a new frame was the largest cost of scoring a micro-batch.
            coerced = renamed if given == expected else renamed[expected]
        else:
            columns = {spec.name: _coerce_column(renamed[spec.name], spec) for spec in self.inputs}
            coerced = pandas.DataFrame(columns, index=frame.index)
        self._check_floats(coerced)
        return coerced

    def _check_floats(self, frame: pandas.DataFrame) -> None:
        """Refuse infinities, and missing values unless allowed, in the float columns.

        One vectorised test per column: the hot path of every prediction passes here.
        """
        import numpy

        for spec in self.inputs:
            if spec.dtype != "float":
                continue
            values = frame[spec.name].to_numpy()
            if numpy.isfinite(values).all():
                continue
            bad = numpy.isinf(values) if self.allow_missing else ~numpy.isfinite(values)
            rows = numpy.flatnonzero(bad)
            if not len(rows):
                continue
            row, value = int(rows[0]), float(values[rows[0]])
            if math.isnan(value):
                raise SignatureError(
                    f"column {spec.name!r}, row {row}: a missing value (null or NaN), but the "
                    "model takes no missing values; send a number"
                )
            raise SignatureError(
                f"column {spec.name!r}, row {row}: {value} is not a finite number "
                "(send a number within the range of a 64-bit float)"
            )

    def _holds_exact_dtypes(self, frame: pandas.DataFrame) -> bool:
        """Every column already has the numpy dtype its spec converts to (strings excluded:
        an object column may hold anything)."""
        dtypes = dict(zip(frame.columns, frame.dtypes, strict=True))
        return all(
            spec.dtype != "string" and str(dtypes[spec.name]) == _PANDAS_DTYPES[spec.dtype]
            for spec in self.inputs
        )

    def __str__(self) -> str:
        inputs = ", ".join(f"{c.name}: {c.dtype}" for c in self.inputs)
        return f"({inputs}) -> {self.output}"


# ---------------------------------------------------------------------------- inference


def _dtype_of(series: pandas.Series[Any], name: str) -> str:
    from pandas.api import types

    if types.is_bool_dtype(series.dtype):
        return "boolean"
    if types.is_integer_dtype(series.dtype):
        return "integer"
    if types.is_float_dtype(series.dtype):
        return "float"
    values = series.dropna().tolist()
    if values and all(isinstance(v, str) for v in values):
        return "string"
    if values and all(isinstance(v, bool) for v in values):
        return "boolean"
    raise SignatureError(
        f"cannot infer the type of column {name!r} (dtype {series.dtype}); columns must hold "
        f"integers, floats, booleans or strings. Give the signature explicitly if needed."
    )


def dtype_of_values(output: Any) -> str:
    """The one of `DTYPES` that an array (or list) of values has: a model's predictions, the
    classes of a classifier, the categories of an encoder."""
    import numpy

    array = numpy.asarray(output)
    kind = array.dtype.kind
    if kind == "b":
        return "boolean"
    if kind in "iu":
        return "integer"
    if kind == "f":
        return "float"
    if kind in "US":
        return "string"
    values = array.ravel().tolist()
    if values and all(isinstance(v, str) for v in values):
        return "string"
    raise SignatureError(
        f"cannot infer the output type from a {type(output).__name__} of dtype {array.dtype}; "
        "give the signature explicitly"
    )


# ---------------------------------------------------------------------------- coercion


def _coerce_column(series: pandas.Series[Any], spec: ColumnSpec) -> pandas.Series[Any]:
    """The column converted to `spec.dtype`: whole columns at once when the dtype allows it,
    value by value (to find the culprit) otherwise."""
    from pandas.api import types

    dtype = series.dtype
    is_bool = types.is_bool_dtype(dtype)
    if spec.dtype == "float" and not is_bool and types.is_numeric_dtype(dtype):
        return series.astype("float64")
    # An unsigned column (what pandas makes of integers over 2**63) may not fit in int64.
    fits = not types.is_unsigned_integer_dtype(dtype) or series.max() <= _INT64_MAX
    if spec.dtype == "integer" and not is_bool and types.is_integer_dtype(dtype) and fits:
        return series.astype("int64")
    if spec.dtype == "boolean" and is_bool and not series.isna().any():
        return series.astype("bool")
    converted = _convert_values(series.tolist(), spec)
    import pandas

    return pandas.Series(converted, index=series.index, dtype=_PANDAS_DTYPES[spec.dtype])


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_JSON_SCHEMAS: dict[str, dict[str, Any]] = {
    "integer": {"type": "integer", "minimum": _INT64_MIN, "maximum": _INT64_MAX},
    "float": {"type": "number"},
    "boolean": {"type": "boolean"},
    "string": {"type": "string"},
}
_PANDAS_DTYPES = {"integer": "int64", "float": "float64", "boolean": "bool", "string": "object"}
_ARTICLE = {
    "integer": "an integer",
    "float": "a float",
    "boolean": "a boolean",
    "string": "a string",
}


def _convert_values(values: Sequence[Any], spec: ColumnSpec) -> list[Any]:
    converter = _CONVERTERS[spec.dtype]
    out = []
    for row, value in enumerate(values):
        try:
            out.append(converter(value))
        except (TypeError, ValueError, OverflowError) as exc:
            # A converter's own message says more than the type alone (out of range, ...).
            reason = str(exc) if isinstance(exc, _OutOfRange) else f"is not {_ARTICLE[spec.dtype]}"
            raise SignatureError(
                f"column {spec.name!r}, row {row}: {_shown(value)} {reason}"
            ) from None
    return out


def _shown(value: Any) -> str:
    """`repr(value)`, shortened: an integer of a thousand digits need not be echoed whole."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}...{text[-8:]} ({len(text)} characters)"


class _OutOfRange(ValueError):
    """A value of the right kind that the column's type cannot hold."""


def _is_bool(value: Any) -> bool:
    return type(value).__name__ in ("bool", "bool_")


def _to_integer(value: Any) -> int:
    if _is_bool(value) or isinstance(value, str) or value is None:
        raise TypeError
    if isinstance(value, int) or hasattr(value, "__index__"):
        number = int(value)
    else:
        real = float(value)
        if not math.isfinite(real) or not real.is_integer():
            raise ValueError
        number = int(real)
    if not _INT64_MIN <= number <= _INT64_MAX:
        raise _OutOfRange("is outside the range of a 64-bit integer")
    return number


def _to_float(value: Any) -> float:
    if _is_bool(value) or isinstance(value, str):
        raise TypeError
    if value is None:
        return math.nan  # a missing number: JSON has only null (checked after conversion)
    try:
        return float(value)
    except OverflowError:
        raise _OutOfRange("is outside the range of a 64-bit float") from None


def _to_boolean(value: Any) -> bool:
    if not _is_bool(value):
        raise TypeError
    return bool(value)


def _to_string(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError
    return value


_CONVERTERS = {
    "integer": _to_integer,
    "float": _to_float,
    "boolean": _to_boolean,
    "string": _to_string,
}
