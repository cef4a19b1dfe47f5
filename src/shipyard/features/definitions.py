"""Feature definitions: a windowed aggregation over one column of one fact table.

A `Feature` is a plain, frozen description (no data, no connection): the same object builds
the training frame offline and, later, the feature vector online. It is checked when it is
declared (aggregation, window, name) and against the table's schema as soon as one is known
(at declaration when given one, and always when a training frame reads the facts).

`definition()` is the canonical form that a feature set hashes into its version, so every
field that changes a feature's values belongs in it.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shipyard.features.errors import FeatureDefinitionError
from shipyard.features.filters import check_filters
from shipyard.features.windows import Window, parse_window

__all__ = [
    "Aggregation",
    "Feature",
    "aggregate",
    "check_feature_name",
    "count",
    "count_distinct",
    "is_numeric_type",
    "last",
    "max",
    "mean",
    "min",
    "sum",
]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Arrow type names of numbers, as a fact table's schema writes them.
_NUMERIC = re.compile(r"u?int(8|16|32|64)|float(16|32|64)?|double|halffloat|decimal.*")


class Aggregation(enum.Enum):
    """How the facts inside a label's window become one value."""

    LAST = "last"
    COUNT = "count"
    SUM = "sum"
    MEAN = "mean"
    MIN = "min"
    MAX = "max"
    COUNT_DISTINCT = "count_distinct"

    @property
    def empty_value(self) -> int | None:
        """The value of a label with no fact in its window: 0 for counts, else null."""
        return 0 if self in (Aggregation.COUNT, Aggregation.COUNT_DISTINCT) else None

    @property
    def needs_numbers(self) -> bool:
        return self in (Aggregation.SUM, Aggregation.MEAN)


def is_numeric_type(type_name: str) -> bool:
    """Whether an Arrow type name (`int64`, `double`, ...) holds numbers."""
    return _NUMERIC.fullmatch(type_name) is not None


@dataclass(frozen=True)
class Feature:
    """One aggregation of `column` of the fact table `table` over `window`, optionally over
    only the facts matching `where` (an SQL expression on the table's columns)."""

    name: str
    table: str
    column: str | None
    aggregation: Aggregation
    window: Window
    where: str | None = None

    def definition(self) -> dict[str, Any]:
        """The canonical, JSON-able form hashed into the feature set's version."""
        return {
            "kind": "aggregate",
            "name": self.name,
            "table": self.table,
            "column": self.column,
            "aggregation": self.aggregation.value,
            "window": self.window.text,
            "where": self.where,
        }

    def check_schema(self, schema: Mapping[str, str]) -> None:
        """Refuse a column the table does not have, or numbers asked of a non-number (the
        filter is checked by `filters.check_filters`, for all features of a table at once)."""
        if self.column is None:
            return
        if self.column not in schema:
            known = ", ".join(sorted(schema))
            raise FeatureDefinitionError(
                f"feature {self.name!r}: the fact table {self.table!r} has no column "
                f"{self.column!r}; its columns are: {known}"
            )
        column_type = schema[self.column]
        if self.aggregation.needs_numbers and not is_numeric_type(column_type):
            raise FeatureDefinitionError(
                f"feature {self.name!r}: {self.aggregation.value} needs a numeric column, but "
                f"{self.table}.{self.column} is {column_type}; use count, count_distinct, "
                "last, min or max, or choose a numeric column"
            )


def aggregate(
    aggregation: Aggregation | str,
    table: str,
    column: str | None = None,
    *,
    window: str | Window | None = None,
    where: str | None = None,
    name: str | None = None,
    schema: Mapping[str, str] | None = None,
) -> Feature:
    """Declare a feature; every shortcut (`last`, `count`, ...) comes here.

    The default name is `{table}_{column}_{aggregation}_{window}` (`plays_minutes_mean_30d`).
    Given the table's `schema`, the column is checked now instead of at the first query.
    """
    kind = _aggregation(aggregation)
    if column is None and kind is not Aggregation.COUNT:
        raise FeatureDefinitionError(
            f"{kind.value} needs a column of {table!r}; only count may omit it (it counts facts)"
        )
    parsed = parse_window(window)
    if where is not None and (not where.strip() or ";" in where):
        raise FeatureDefinitionError(
            f"bad where={where!r}: give one SQL boolean expression over the table's columns, "
            "e.g. where=\"genre = 'comedy'\""
        )
    feature_name = name or f"{table}_{column or 'facts'}_{kind.value}_{parsed.text}"
    check_feature_name(feature_name)
    feature = Feature(feature_name, table, column, kind, parsed, where)
    if schema is not None:
        feature.check_schema(schema)
        check_filters(table, schema, {feature_name: where} if where is not None else {})
    return feature


def check_feature_name(name: str) -> None:
    """Refuse a name that cannot be a column of the training frame."""
    if _NAME.fullmatch(name) is None or name.startswith("__"):
        raise FeatureDefinitionError(
            f"bad feature name {name!r}: use letters, digits and underscores, starting "
            "with a letter (it becomes a column of the training frame)"
        )


def _aggregation(value: Aggregation | str) -> Aggregation:
    if isinstance(value, Aggregation):
        return value
    try:
        return Aggregation(value)
    except ValueError:
        known = ", ".join(a.value for a in Aggregation)
        raise FeatureDefinitionError(
            f"unknown aggregation {value!r}: choose one of {known}, or write a Python feature "
            "(features.python) for anything else"
        ) from None


# The shortcuts are what users write; each fixes the aggregation of `aggregate`.
def last(table: str, column: str, **options: Any) -> Feature:
    """The value of the most recent fact in the window (null if that value is null)."""
    return aggregate(Aggregation.LAST, table, column, **options)


def count(table: str, column: str | None = None, **options: Any) -> Feature:
    """The number of facts in the window (of non-null values of `column` if given)."""
    return aggregate(Aggregation.COUNT, table, column, **options)


def sum(table: str, column: str, **options: Any) -> Feature:
    """The sum of the non-null values in the window (null when there are none)."""
    return aggregate(Aggregation.SUM, table, column, **options)


def mean(table: str, column: str, **options: Any) -> Feature:
    """The mean of the non-null values in the window (null when there are none)."""
    return aggregate(Aggregation.MEAN, table, column, **options)


def min(table: str, column: str, **options: Any) -> Feature:
    """The smallest non-null value in the window."""
    return aggregate(Aggregation.MIN, table, column, **options)


def max(table: str, column: str, **options: Any) -> Feature:
    """The largest non-null value in the window."""
    return aggregate(Aggregation.MAX, table, column, **options)


def count_distinct(table: str, column: str, **options: Any) -> Feature:
    """The number of distinct non-null values in the window."""
    return aggregate(Aggregation.COUNT_DISTINCT, table, column, **options)
