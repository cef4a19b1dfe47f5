"""Compiling a feature list to one DuckDB query that builds a point-in-time training frame.

For each fact table the facts and the label rows are put into one stream per entity, ordered
by time, and every feature is a window aggregate over the facts of that stream, evaluated at
the label rows. That is one sort per table and no join that multiplies rows, so the query
runs in memory proportional to the facts and labels, not to labels x facts.

Time is an integer key: `2 * epoch_us` for a fact, `2 * epoch_us + 1` for a label. A label at
microsecond `t` and window `w` then sees the facts with keys in `[2t - 2w, 2t - 1]`, i.e.
`t - w <= event_time < t`: a fact at exactly `t` is outside, one a microsecond before inside.
The odd key also orders every label after the facts of its instant, which makes the row order
inside a partition, and so every floating-point sum, the same from one run to the next.

Restated facts are resolved before aggregation: per (entity, event time) the version with the
latest `recorded_at` at or before `as_of` (ties broken by file and row, so the choice is
deterministic), and nothing recorded after `as_of` is read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from shipyard.features.definitions import Aggregation, Feature, is_numeric_type
from shipyard.features.scan import RECORDED_AT, FactScan

__all__ = [
    "ENTITY",
    "LABELS",
    "ROW",
    "TIME",
    "TableFeatures",
    "compile_training_query",
    "empty_source",
    "epoch_micros",
]

#: The relation the caller registers: one row per label, `ROW` (its position), `ENTITY` and
#: `TIME` (the label's timestamp).
LABELS = "__labels"
ROW = "__row"
ENTITY = "__entity"
TIME = "__time"
_KEY = "__key"
_IS_FACT = f"{ROW} IS NULL"


@dataclass(frozen=True)
class TableFeatures:
    """The features read from one fact table, with the scan that says where its facts are."""

    scan: FactScan
    features: tuple[Feature, ...]


def epoch_micros(moment: datetime) -> int:
    """Microseconds since the epoch; a naive datetime is taken to be UTC."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    delta = aware - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def compile_training_query(tables: Sequence[TableFeatures], as_of: datetime) -> str:
    """The SQL computing every feature for every row of `LABELS`, ordered by `ROW`.

    The result has `ROW` and one column per feature, named after the feature.
    """
    ctes: list[str] = []
    selected: list[str] = []
    joins: list[str] = []
    for index, group in enumerate(tables):
        ctes.extend(_table_ctes(index, group, epoch_micros(as_of)))
        selected.extend(f"t{index}.{_ident(f.name)}" for f in group.features)
        joins.append(f"LEFT JOIN features_{index} AS t{index} USING ({ROW})")
    return (
        "WITH "
        + ",\n".join(ctes)
        + f"\nSELECT {ROW}, "
        + ", ".join(selected)
        + f"\nFROM {LABELS}\n"
        + "\n".join(joins)
        + f"\nORDER BY {ROW}"
    )


def empty_source(index: int) -> str:
    """The relation the caller registers for the `index`-th table when its scan has no files
    (a table nothing was written to yet): no rows, the table's columns (`types.empty_facts`)."""
    return f"__empty_facts_{index}"


def _table_ctes(index: int, group: TableFeatures, as_of_micros: int) -> list[str]:
    scan = group.scan
    source = (
        f"read_parquet([{', '.join(_literal(path) for path in scan.files)}], "
        "file_row_number = true, filename = '__file')"
        if scan.files
        else f"(SELECT *, '' AS __file, 0 AS file_row_number FROM {empty_source(index)})"
    )
    facts = (
        f"facts_{index} AS (\n"
        f"  SELECT *, {_ident(scan.entity)} AS {ENTITY},\n"
        f"         2 * epoch_us({_ident(scan.event_time)}) AS {_KEY}\n"
        f"  FROM {source}\n"
        f"  WHERE epoch_us({RECORDED_AT}) <= {as_of_micros} AND {_ident(scan.entity)} IS NOT NULL"
        f" AND {_ident(scan.event_time)} IS NOT NULL\n"
        f"  QUALIFY row_number() OVER (PARTITION BY {ENTITY}, {_KEY}\n"
        f"      ORDER BY {RECORDED_AT} DESC, __file DESC, file_row_number DESC) = 1)"
    )
    stream = (
        f"stream_{index} AS (\n"
        f"  SELECT * EXCLUDE (__file, file_row_number), NULL::BIGINT AS {ROW} FROM facts_{index}\n"
        f"  UNION ALL BY NAME\n"
        f"  SELECT {ROW}, {ENTITY}, 2 * epoch_us({TIME}) + 1 AS {_KEY} FROM {LABELS})"
    )
    windows = sorted({f.window.micros for f in group.features}, key=lambda m: (m is None, m))
    window_names = {micros: f"w{index}_{n}" for n, micros in enumerate(windows)}
    aggregates = ",\n    ".join(
        f"{_aggregate(f, scan.schema)} OVER {window_names[f.window.micros]} AS {_ident(f.name)}"
        for f in group.features
    )
    window_clauses = ", ".join(
        f"{name} AS (PARTITION BY {ENTITY} ORDER BY {_KEY} RANGE BETWEEN "
        f"{'UNBOUNDED' if micros is None else 2 * micros + 1} PRECEDING AND 2 PRECEDING)"
        for micros, name in window_names.items()
    )
    features = (
        f"features_{index} AS (\n"
        f"  SELECT {ROW},\n    {aggregates}\n"
        f"  FROM stream_{index}\n"
        f"  WINDOW {window_clauses}\n"
        f"  QUALIFY {ROW} IS NOT NULL)"
    )
    return [facts, stream, features]


def _aggregate(feature: Feature, schema: Mapping[str, str]) -> str:
    """The window aggregate of one feature, over the facts only (and `where`, if given)."""
    condition = _IS_FACT if feature.where is None else f"{_IS_FACT} AND ({feature.where})"
    column = "*" if feature.column is None else _ident(feature.column)
    kind = feature.aggregation
    expression = {
        Aggregation.LAST: f"arg_max_null({column}, {_KEY})",
        Aggregation.COUNT: f"count({column})",
        Aggregation.SUM: f"sum({column})",
        Aggregation.MEAN: f"avg({column})",
        Aggregation.MIN: f"min({column})",
        Aggregation.MAX: f"max({column})",
        Aggregation.COUNT_DISTINCT: f"count(DISTINCT {column})",
    }[kind]
    aggregated = f"{expression} FILTER (WHERE {condition})"
    if kind is Aggregation.SUM and _is_integer(schema.get(feature.column or "", "")):
        # DuckDB sums integers into a 128-bit integer, which Arrow would hand over as a decimal.
        return f"CAST({aggregated} AS BIGINT)"
    return aggregated


def _is_integer(type_name: str) -> bool:
    return is_numeric_type(type_name) and "int" in type_name


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
