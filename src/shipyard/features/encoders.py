"""Encoders: turning a feature column into model inputs, with state fitted on training data.

An encoder is a frozen declaration (its parameters, part of the feature set's version);
`fit` learns its state from a training column (a JSON-able dict: small, stored with the
model, content-addressed by `FittedFeatureSet.digest`); `transform` applies declaration and
state to a column, vectorized, the same way for a training frame and, later, for a single
feature vector online. Nulls are never dropped: each encoder says what a null becomes.

`kernel` compiles declaration and state into a function on NumPy arrays, for the online hot
path (`online.encoding`), where a pandas Series per feature per lookup would cost more than
the lookup itself: numeric encoders take float64 arrays (NaN for null) and their `transform`
runs the same kernel; vocabulary encoders take object arrays and look values up in a dict
(the same matches as pandas' object index: `1`, `1.0` and `True` are one value).

| encoder | state | output |
|---|---|---|
| `standardize()` | mean, std (population) | `(x - mean) / std`; null stays null |
| `bucketize(quantiles=4)`, `bucketize(edges=...)` | edges | bucket 0..len(edges); null: -1 |
| `category()` | vocabulary | code 1..n; unknown or null -> 0 |
| `one_hot()` | vocabulary | one int8 column per value, plus `{column}__unknown` |
| `log1p()` | none | `log(1 + x)` |
| `fill_missing(strategy="mean")` | the fill value | nulls replaced |
"""

from __future__ import annotations

import enum
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from shipyard.features.errors import EncoderError, FeatureDefinitionError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Encoder",
    "Kernel",
    "Takes",
    "bucketize",
    "category",
    "encoder_from_definition",
    "fill_missing",
    "log1p",
    "one_hot",
    "standardize",
]

State = dict[str, Any]
UNKNOWN_SUFFIX = "__unknown"
#: An encoder compiled with its state: a NumPy array in, the encoded array out (2-D, one
#: column per output, for an expanding encoder).
Kernel = Callable[[Any], Any]


class Takes(enum.Enum):
    """What a kernel's input array holds."""

    #: float64 numbers, NaN for null (from a numeric or boolean column, else an error).
    NUMBERS = "numbers"
    #: Python objects, as `Series.astype(object)` gives them.
    OBJECTS = "objects"
    #: the column's own array, whatever its dtype.
    COLUMN = "column"


class Encoder(ABC):
    """A declared encoder: `fit` learns a state from a column, `transform` applies it."""

    kind: str
    #: Whether the output is several columns (then it must be the last of its chain).
    expands = False
    takes = Takes.NUMBERS

    def definition(self) -> dict[str, Any]:
        """The canonical form hashed into the feature set's version."""
        return {"kind": self.kind, **asdict(self)}  # type: ignore[call-overload]

    @abstractmethod
    def fit(self, values: pd.Series) -> State:
        """The state learnt from a training column."""

    @abstractmethod
    def transform(self, values: pd.Series, state: State) -> pd.Series | pd.DataFrame:
        """The encoded column (or columns, for an expanding encoder)."""

    @abstractmethod
    def kernel(self, state: State) -> Kernel:
        """`transform` as a function on arrays (see the module), compiled once per state."""

    def output_names(self, column: str, state: State) -> list[str]:
        """The names of the encoded columns of `column`."""
        return [column]


@dataclass(frozen=True)
class Standardize(Encoder):
    kind = "standardize"

    def fit(self, values: pd.Series) -> State:
        numbers = _numbers(values).dropna()
        if numbers.empty:
            return {"mean": 0.0, "std": 1.0}
        std = float(numbers.std(ddof=0))
        # A constant column has nothing to scale; dividing by 1 keeps it finite.
        return {"mean": float(numbers.mean()), "std": std if std > 0 else 1.0}

    def transform(self, values: pd.Series, state: State) -> pd.Series:
        return _like(values, self.kernel(state)(_number_array(values)))

    def kernel(self, state: State) -> Kernel:
        mean, std = state["mean"], state["std"]
        return lambda numbers: (numbers - mean) / std


@dataclass(frozen=True)
class Bucketize(Encoder):
    kind = "bucketize"
    quantiles: int | None = None
    edges: tuple[float, ...] | None = None

    def fit(self, values: pd.Series) -> State:
        if self.edges is not None:
            return {"edges": list(self.edges)}
        import numpy as np

        assert self.quantiles is not None
        numbers = _numbers(values).dropna().to_numpy(dtype="float64")
        if numbers.size == 0:
            return {"edges": []}
        inner = np.quantile(numbers, [i / self.quantiles for i in range(1, self.quantiles)])
        return {"edges": sorted({float(edge) for edge in inner})}

    def transform(self, values: pd.Series, state: State) -> pd.Series:
        return _like(values, self.kernel(state)(_number_array(values)))

    def kernel(self, state: State) -> Kernel:
        import numpy as np

        edges = np.asarray(state["edges"], dtype="float64")

        def buckets(numbers: Any) -> Any:
            found = np.searchsorted(edges, numbers, "right")
            return np.where(np.isnan(numbers), -1, found)

        return buckets


@dataclass(frozen=True)
class Category(Encoder):
    kind = "category"
    max_categories: int | None = None
    min_frequency: int = 1

    def fit(self, values: pd.Series) -> State:
        return {"vocabulary": _vocabulary(values, self.max_categories, self.min_frequency)}

    takes = Takes.OBJECTS

    def transform(self, values: pd.Series, state: State) -> pd.Series:
        import pandas as pd

        codes = _codes(values, state["vocabulary"])
        return pd.Series(codes + 1, index=values.index, name=values.name)

    def kernel(self, state: State) -> Kernel:
        lookup = _lookup(state["vocabulary"])
        return lambda objects: _looked_up(objects, lookup) + 1


@dataclass(frozen=True)
class OneHot(Encoder):
    kind = "one_hot"
    expands = True
    max_categories: int | None = None
    min_frequency: int = 1

    def fit(self, values: pd.Series) -> State:
        return {"vocabulary": _vocabulary(values, self.max_categories, self.min_frequency)}

    takes = Takes.OBJECTS

    def transform(self, values: pd.Series, state: State) -> pd.DataFrame:
        import pandas as pd

        vocabulary = state["vocabulary"]
        matrix = _one_hot(_codes(values, vocabulary), len(vocabulary))
        names = self.output_names(str(values.name), state)
        return pd.DataFrame(matrix, index=values.index, columns=names)

    def kernel(self, state: State) -> Kernel:
        size = len(state["vocabulary"])
        lookup = _lookup(state["vocabulary"])
        return lambda objects: _one_hot(_looked_up(objects, lookup), size)

    def output_names(self, column: str, state: State) -> list[str]:
        return [f"{column}={value}" for value in state["vocabulary"]] + [
            f"{column}{UNKNOWN_SUFFIX}"
        ]


@dataclass(frozen=True)
class Log1p(Encoder):
    kind = "log1p"

    def fit(self, values: pd.Series) -> State:
        return {}

    def transform(self, values: pd.Series, state: State) -> pd.Series:
        return _like(values, self.kernel(state)(_number_array(values)))

    def kernel(self, state: State) -> Kernel:
        import numpy as np

        return np.log1p  # type: ignore[no-any-return]


@dataclass(frozen=True)
class FillMissing(Encoder):
    kind = "fill_missing"
    strategy: Literal["mean", "median", "most_frequent", "constant"] = "mean"
    value: Any = None

    def fit(self, values: pd.Series) -> State:
        if self.strategy == "constant":
            return {"value": self.value}
        present = values.dropna()
        if present.empty:
            raise EncoderError(
                f"fill_missing({self.strategy!r}) cannot learn a value for {values.name!r}: "
                "the training column is all null; use fill_missing(value=...)"
            )
        if self.strategy == "most_frequent":
            return {"value": _plain(present.value_counts().sort_index(kind="stable").idxmax())}
        numbers = _numbers(present)
        return {"value": float(numbers.mean() if self.strategy == "mean" else numbers.median())}

    takes = Takes.COLUMN

    def transform(self, values: pd.Series, state: State) -> pd.Series:
        return values.fillna(state["value"])

    def kernel(self, state: State) -> Kernel:
        """`fillna` on a plain array: numbers stay numbers (a column without nulls as it is),
        anything else becomes objects."""
        import numpy as np
        import pandas as pd

        value = state["value"]
        numeric = isinstance(value, int | float) and not isinstance(value, bool)

        def filled(column: Any) -> Any:
            if column.dtype.kind in "iub":
                return column
            if column.dtype.kind == "f" and numeric:
                return np.where(np.isnan(column), value, column)
            objects = np.array(column, dtype=object)
            objects[pd.isna(objects)] = value
            return objects

        return filled


def standardize() -> Encoder:
    """Scale to mean 0 and standard deviation 1, as measured on the training frame."""
    return Standardize()


def bucketize(*, quantiles: int | None = None, edges: Sequence[float] | None = None) -> Encoder:
    """Bucket indices: between quantile edges learnt in fit (`quantiles=4`: quartiles), or
    between fixed `edges`. Bucket i holds `edges[i-1] <= x < edges[i]`."""
    if (quantiles is None) == (edges is None):
        raise FeatureDefinitionError("bucketize takes either quantiles=N or edges=[...], not both")
    if quantiles is not None and quantiles < 2:
        raise FeatureDefinitionError(f"bucketize(quantiles={quantiles}): use 2 or more")
    if edges is not None:
        fixed = tuple(float(edge) for edge in edges)
        if list(fixed) != sorted(set(fixed)) or not all(math.isfinite(e) for e in fixed):
            raise FeatureDefinitionError(
                f"bucketize(edges={list(edges)}): give finite, strictly increasing edges"
            )
        return Bucketize(edges=fixed)
    return Bucketize(quantiles=quantiles)


def category(*, max_categories: int | None = None, min_frequency: int = 1) -> Encoder:
    """Integer codes from a frozen vocabulary (the most frequent values seen in fit); 0 is
    the unknown bucket for values never seen, rarer than `min_frequency`, or null."""
    _check_vocabulary(max_categories, min_frequency)
    return Category(max_categories, min_frequency)


def one_hot(*, max_categories: int | None = None, min_frequency: int = 1) -> Encoder:
    """One 0/1 column per vocabulary value plus an explicit unknown column."""
    _check_vocabulary(max_categories, min_frequency)
    return OneHot(max_categories, min_frequency)


def log1p() -> Encoder:
    """`log(1 + x)`, for counts and other long-tailed non-negative values."""
    return Log1p()


def fill_missing(
    strategy: Literal["mean", "median", "most_frequent", "constant"] = "mean",
    *,
    value: Any = None,
) -> Encoder:
    """Replace nulls by the training column's mean, median or most frequent value, or by a
    constant (`fill_missing(value=0)`)."""
    if value is not None:
        strategy = "constant"
    if strategy not in ("mean", "median", "most_frequent", "constant"):
        raise FeatureDefinitionError(
            f"unknown fill_missing strategy {strategy!r}: mean, median, most_frequent, or value="
        )
    if strategy == "constant" and value is None:
        raise FeatureDefinitionError("fill_missing('constant') needs value=...")
    return FillMissing(strategy, _plain(value))


def encoder_from_definition(definition: dict[str, Any]) -> Encoder:
    """The encoder a `definition()` describes (how fitted state is read back from JSON)."""
    params = dict(definition)
    kind = params.pop("kind")
    classes: dict[str, type[Encoder]] = {
        cls.kind: cls for cls in (Standardize, Bucketize, Category, OneHot, Log1p, FillMissing)
    }
    if kind not in classes:
        raise EncoderError(f"unknown encoder kind {kind!r}: known are {', '.join(sorted(classes))}")
    arguments = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    return classes[kind](**arguments)


def _check_vocabulary(max_categories: int | None, min_frequency: int) -> None:
    if (max_categories is not None and max_categories < 1) or min_frequency < 1:
        raise FeatureDefinitionError(
            "max_categories and min_frequency must be 1 or more (None: no limit)"
        )


def _numbers(values: pd.Series) -> pd.Series:
    _check_numbers(values)
    return values.astype("float64")


def _number_array(values: pd.Series) -> Any:
    """The column as float64 NumPy numbers (nulls as NaN). Encoders compute on arrays and
    wrap the answer once (`_like`): per pandas operation a one-row vector, as a scorer
    encodes, costs tens of microseconds, the arithmetic itself nothing."""
    import numpy as np

    _check_numbers(values)
    return values.to_numpy(dtype="float64", na_value=np.nan)


def _check_numbers(values: pd.Series) -> None:
    import pandas as pd

    if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
        raise not_numbers(str(values.name), values.dtype)


def not_numbers(column: str, dtype: Any) -> EncoderError:
    """The error of a numeric encoder given a column of something else."""
    return EncoderError(
        f"column {column!r} holds {dtype}, not numbers; encode it with "
        "category() or one_hot() instead"
    )


def _like(values: pd.Series, array: Any) -> pd.Series:
    """`array` as a Series with the index and name of `values`."""
    import pandas as pd

    return pd.Series(array, index=values.index, name=values.name)


def _vocabulary(values: pd.Series, max_categories: int | None, min_frequency: int) -> list[Any]:
    """The values seen, most frequent first (ties by value, so the order is reproducible)."""
    counts = values.dropna().value_counts()
    ranked = sorted(
        ((int(n), _plain(v)) for v, n in counts.items() if n >= min_frequency),
        key=lambda item: (-item[0], str(item[1])),
    )
    return [value for _, value in ranked[:max_categories]]


def _codes(values: pd.Series, vocabulary: list[Any]) -> Any:
    """Each value's index in the vocabulary, -1 for unknown or null (vectorized)."""
    import pandas as pd

    return pd.Index(vocabulary, dtype=object).get_indexer(values.astype(object)).astype("int64")


def _lookup(vocabulary: list[Any]) -> dict[Any, int]:
    """Each vocabulary value's index (the first, as `Index.get_indexer` finds it)."""
    lookup: dict[Any, int] = {}
    for index, value in enumerate(vocabulary):
        lookup.setdefault(value, index)
    return lookup


def _looked_up(objects: Any, lookup: dict[Any, int]) -> Any:
    """`_codes` for a small object array: a dict lookup per value, no index to build."""
    import numpy as np

    return np.fromiter((lookup.get(v, -1) for v in objects), dtype="int64", count=len(objects))


def _one_hot(codes: Any, size: int) -> Any:
    """Column i is value i; the last column is the unknown bucket (code -1)."""
    import numpy as np

    slots = np.where(codes < 0, size, codes)
    matrix = np.zeros((len(codes), size + 1), dtype="int8")
    matrix[np.arange(len(codes)), slots] = 1
    return matrix


def _plain(value: Any) -> Any:
    """A JSON type for a NumPy/pandas scalar (state must be canonical JSON)."""
    return value.item() if hasattr(value, "item") else value
