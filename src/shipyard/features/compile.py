"""Compiling a feature list to one DuckDB query that builds a point-in-time training frame.

Per fact table the visible facts are resolved first: recorded at or before `as_of`, and per
(entity, event time) only the latest version (the greatest `recorded_at`; ties go to the
later file of the scan, then the later row, so the choice is deterministic). Then:

- `last` features (per filter) are one ASOF join: each label's latest fact strictly before
  its timestamp, kept for the features whose window it falls in;
- the other aggregations over bounded windows are one join of each label to its entity's
  facts inside the widest window, grouped by label (each feature filtered to its window);
  floating-point sums and means over unbounded windows are such a join too (without a
  lower bound), whose order of addition is the event time alone;
- the other aggregations over unbounded windows run over one stream per entity in which
  facts and labels are ordered by time: each feature is a window aggregate over the facts
  before the label (a join there would grow with each entity's whole history).

All of it is deterministic whatever the number of threads: floating-point sums over a join
add up exactly where the column allows (`exact_sums`), else in event-time order, and the
streams' row order is total (below), so a rebuilt frame is byte-identical.

Time is an integer key: `2 * epoch_us` for a fact, `2 * epoch_us + 1` for a label. A label at
microsecond `t` and window `w` then sees the facts with keys in `[2t - 2w, 2t - 1]`, i.e.
`t - w <= event_time < t`: a fact at exactly `t` is outside, one a microsecond before inside.
The odd key also orders every label after the facts of its instant, which makes the row order
inside a stream's partition, and so every floating-point sum, the same from one run to the
next.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shipyard.features.definitions import Aggregation, Feature, is_numeric_type
from shipyard.features.exact_sums import exact_sum
from shipyard.features.fact_read import facts_source
from shipyard.features.scan import RECORDED_AT, FactScan
from shipyard.features.sql_text import identifier, literal

__all__ = [
    "ENTITY",
    "LABELS",
    "ROW",
    "TIME",
    "TableFeatures",
    "compile_training_query",
    "compile_window_facts_query",
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
_BEFORE = "__before"
_VERSION = "__version"
_IS_FACT = f"{ROW} IS NULL"


@dataclass(frozen=True)
class TableFeatures:
    """The features read from one fact table, with the scan that says where its facts are."""

    scan: FactScan
    features: tuple[Feature, ...]
    #: Whether two of the scan's facts may share an entity and event time
    #: (`restatements.may_restate`); when not, resolving versions is skipped.
    restated: bool = True
    #: Floating-point columns whose sums are added exactly, by the power of two that makes
    #: every value an integer (`exact_sums.exact_scales`); the others add up in time order.
    exact: Mapping[str, int] = field(default_factory=dict)


def epoch_micros(moment: datetime) -> int:
    """Microseconds since the epoch; a naive datetime is taken to be UTC."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    delta = aware - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def compile_training_query(tables: Sequence[TableFeatures], as_of: datetime) -> str:
    """The SQL computing every feature for every row of `LABELS`, ordered by `ROW`.

    The result has `ROW` and one column per feature, named after the feature.
    """
    ctes = [
        f"label_keys AS (SELECT {ROW}, {ENTITY}, 2 * epoch_us({TIME}) AS {_BEFORE}, "
        f"2 * epoch_us({TIME}) + 1 AS {_KEY} FROM {LABELS})"
    ]
    parts: list[tuple[str, tuple[Feature, ...]]] = []
    for index, group in enumerate(tables):
        ctes.append(_facts_cte(index, group.scan, epoch_micros(as_of), group.restated))
        lasts = [f for f in group.features if f.aggregation is Aggregation.LAST]
        for n, where in enumerate(dict.fromkeys(f.where for f in lasts)):
            same_filter = tuple(f for f in lasts if f.where == where)
            parts.append((f"last_{index}_{n}", same_filter))
            ctes.append(_last_cte(parts[-1][0], index, same_filter))
        others = [f for f in group.features if f.aggregation is not Aggregation.LAST]
        bounded = tuple(f for f in others if not f.window.is_unbounded)
        if bounded:
            parts.append((f"ranges_{index}", bounded))
            ctes.append(_range_cte(parts[-1][0], index, bounded, group.scan.schema, group.exact))
        # Floating-point sums over all history are joined too: a window aggregate adds them in
        # an order that depends on the other entities DuckDB partitions with the entity, so a
        # frame built in entity partitions (`partitioned.py`) would differ in the last bits.
        history = tuple(
            f for f in others if f.window.is_unbounded and _adds_floats(f, group.scan.schema)
        )
        if history:
            parts.append((f"history_{index}", history))
            ctes.append(_range_cte(parts[-1][0], index, history, group.scan.schema, group.exact))
        unbounded = tuple(f for f in others if f.window.is_unbounded and f not in history)
        if unbounded:
            parts.append((f"windows_{index}", unbounded))
            ctes.extend(_window_ctes(index, unbounded, group.scan.schema))
    selected = {f.name: f"p{n}.{identifier(f.name)}" for n, (_, fs) in enumerate(parts) for f in fs}
    ordered = [selected[f.name] for group in tables for f in group.features]
    joins = "\n".join(
        f"LEFT JOIN {name} AS p{n} USING ({ROW})" for n, (name, _) in enumerate(parts)
    )
    return (
        "WITH "
        + ",\n".join(ctes)
        + f"\nSELECT {ROW}, "
        + ", ".join(ordered)
        + f"\nFROM {LABELS}\n{joins}\nORDER BY {ROW}"
    )


def compile_window_facts_query(
    scan: FactScan, window_micros: int | None, as_of: datetime, partition: int, partitions: int
) -> str:
    """The facts each label of one entity partition sees, for a Python feature: one row per
    (label, fact in its window), with `label` (the label's `ROW`), `label_time` and the
    table's columns, ordered by label and event time. The facts are resolved as for every
    other feature (`as_of`, restatements); the scan is table 0 (see `empty_source`)."""
    label_key = f"2 * epoch_us(l.{TIME})"
    lower = "" if window_micros is None else f" AND f.{_KEY} >= {label_key} - {2 * window_micros}"
    return (
        f"WITH {_facts_cte(0, scan, epoch_micros(as_of))}\n"
        f"SELECT l.{ROW} AS label, l.{TIME} AS label_time, f.* EXCLUDE ({ENTITY}, {_KEY})\n"
        f"FROM {LABELS} AS l JOIN facts_0 AS f\n"
        f"  ON l.{ENTITY} = f.{ENTITY} AND f.{_KEY} < {label_key}{lower}\n"
        f"WHERE hash(l.{ENTITY}) % {partitions} = {partition}\n"
        f"ORDER BY l.{ROW}, f.{_KEY}"
    )


def empty_source(index: int) -> str:
    """The relation the caller registers for the `index`-th table when its scan has no files
    (a table nothing was written to yet): no rows, the table's columns (`types.empty_facts`)."""
    return f"__empty_facts_{index}"


def _facts_cte(index: int, scan: FactScan, as_of_micros: int, restated: bool = True) -> str:
    """The visible facts: recorded by `as_of`, one version per (entity, event time).

    Restatements are rare, so they are found by a narrow aggregate (entity, time, version)
    and only the superseded versions are removed (an anti join against a usually empty
    table), instead of ranking every fact. One number orders the versions: `recorded_at`,
    then the file's position in the scan, then the row in the file."""
    columns = ", ".join(identifier(name) for name in scan.schema if name != RECORDED_AT)
    visible = (
        f"epoch_us({RECORDED_AT}) <= {as_of_micros} AND {identifier(scan.entity)} IS NOT NULL"
        f" AND {identifier(scan.event_time)} IS NOT NULL"
    )
    selected = (
        f"{columns}, {identifier(scan.entity)} AS {ENTITY}, "
        f"2 * epoch_us({identifier(scan.event_time)}) AS {_KEY}"
    )
    if not scan.files:
        return f"facts_{index} AS (SELECT {selected} FROM {empty_source(index)} WHERE {visible})"
    paths = ", ".join(literal(path) for path in scan.files)
    version = (
        f"epoch_us({RECORDED_AT})::HUGEINT * {1 << 64} + file_index::HUGEINT * {1 << 40}"
        " + file_row_number"
    )
    source = f"read_parquet([{paths}])"
    if any(at is not None for at in scan.registered_at):
        # Files registered in place (an external table's) have no recorded_at column, and are
        # not split by entity: only the labels' entities are kept (a partition of a
        # partitioned build reads every such file).
        source = facts_source(scan, positions=True)
        visible += f" AND {identifier(scan.entity)} IN (SELECT {ENTITY} FROM {LABELS})"
    if not restated:  # one version per key already: only the as_of filter applies
        return (
            f"facts_{index} AS NOT MATERIALIZED (\n"
            f"  SELECT {selected} FROM {source} WHERE {visible})"
        )
    # Each reader of the facts scans the files again (NOT MATERIALIZED): streaming the
    # Parquet twice costs less than holding the whole table in memory.
    return (
        f"restated_{index} AS (\n"
        f"  SELECT {ENTITY}, {_KEY}, max({_VERSION}) AS latest FROM (\n"
        f"    SELECT {identifier(scan.entity)} AS {ENTITY},"
        f" 2 * epoch_us({identifier(scan.event_time)}) AS {_KEY}, {version} AS {_VERSION}\n"
        f"    FROM {source} WHERE {visible})\n"
        f"  GROUP BY {ENTITY}, {_KEY} HAVING count(*) > 1),\n"
        f"facts_{index} AS NOT MATERIALIZED (\n"
        f"  SELECT {selected} FROM {source} AS v\n"
        f"  ANTI JOIN restated_{index} AS r ON v.{identifier(scan.entity)} = r.{ENTITY}"
        f" AND 2 * epoch_us(v.{identifier(scan.event_time)}) = r.{_KEY}"
        f" AND {version.replace(RECORDED_AT, 'v.' + RECORDED_AT)} < r.latest\n"
        f"  WHERE {visible})"
    )


def _last_cte(name: str, index: int, lasts: tuple[Feature, ...]) -> str:
    """`last` features sharing one filter: an ASOF join finds each label's latest earlier fact,
    which is then kept only for the features whose window it falls in."""
    where = lasts[0].where
    facts = f"facts_{index}" if where is None else f"(SELECT * FROM facts_{index} WHERE {where})"
    values = ",\n    ".join(
        f"{_in_window('f', f.window.micros, identifier(str(f.column)))} AS {identifier(f.name)}"
        for f in lasts
    )
    return (
        f"{name} AS (\n"
        f"  SELECT l.{ROW},\n    {values}\n"
        f"  FROM label_keys AS l ASOF LEFT JOIN {facts} AS f\n"
        f"    ON l.{ENTITY} = f.{ENTITY} AND f.{_KEY} < l.{_BEFORE})"
    )


def _in_window(alias: str, micros: int | None, column: str) -> str:
    if micros is None:
        return f"{alias}.{column}"
    return f"CASE WHEN {alias}.{_KEY} >= l.{_BEFORE} - {2 * micros} THEN {alias}.{column} END"


def _range_cte(
    name: str,
    index: int,
    group: tuple[Feature, ...],
    schema: Mapping[str, str],
    exact: Mapping[str, int],
) -> str:
    """Aggregations over windows: each label joined to its entity's facts inside the widest
    window (all its facts if one is unbounded), grouped by label, each feature filtered to its
    own window.

    Floating-point sums and means add up exactly (`exact`) or else in event-time order
    (`ORDER BY`), so the answer does not depend on how threads split the groups: the frame
    is byte-identical when rebuilt."""
    micros = [f.window.micros for f in group]
    widest = None if None in micros else max(2 * (m or 0) for m in micros)
    lower = "" if widest is None else f" AND f.{_KEY} >= l.{_BEFORE} - {widest}"
    aggregates = ",\n    ".join(
        f"{_aggregate(f, schema, 'f.', _range_condition(f, widest), ordered=True, exact=exact)}"
        f" AS {identifier(f.name)}"
        for f in group
    )
    return (
        f"{name} AS (\n"
        f"  SELECT l.{ROW},\n    {aggregates}\n"
        f"  FROM label_keys AS l LEFT JOIN facts_{index} AS f\n"
        f"    ON l.{ENTITY} = f.{ENTITY} AND f.{_KEY} < l.{_BEFORE}{lower}\n"
        f"  GROUP BY l.{ROW})"
    )


def _range_condition(feature: Feature, widest: int | None) -> str:
    conditions = [f"f.{_KEY} IS NOT NULL"]
    if feature.window.micros is not None and (widest is None or 2 * feature.window.micros < widest):
        conditions.append(f"f.{_KEY} >= l.{_BEFORE} - {2 * (feature.window.micros or 0)}")
    if feature.where is not None:
        conditions.append(f"({feature.where})")
    return " AND ".join(conditions)


def _window_ctes(index: int, group: tuple[Feature, ...], schema: Mapping[str, str]) -> list[str]:
    """Aggregations over unbounded windows: labels and facts in one stream per entity,
    ordered by time, each feature a window aggregate over the facts before the label (no
    join, whose size would grow with each entity's whole history)."""
    stream = (
        f"stream_{index} AS (\n"
        f"  SELECT *, NULL::BIGINT AS {ROW} FROM facts_{index}\n"
        f"  UNION ALL BY NAME\n"
        f"  SELECT {ROW}, {ENTITY}, {_KEY} FROM label_keys)"
    )
    windows = sorted({f.window.micros for f in group}, key=lambda m: (m is None, m))
    window_names = {micros: f"w{index}_{n}" for n, micros in enumerate(windows)}
    aggregates = ",\n    ".join(
        f"{_aggregate(f, schema, '', _where(_IS_FACT, f), ordered=False)}"
        f" OVER {window_names[f.window.micros]} AS {identifier(f.name)}"
        for f in group
    )
    window_clauses = ", ".join(
        f"{name} AS (PARTITION BY {ENTITY} ORDER BY {_KEY} RANGE BETWEEN "
        f"{'UNBOUNDED' if micros is None else 2 * micros + 1} PRECEDING AND 2 PRECEDING)"
        for micros, name in window_names.items()
    )
    features = (
        f"windows_{index} AS (\n"
        f"  SELECT {ROW},\n    {aggregates}\n"
        f"  FROM stream_{index}\n"
        f"  WINDOW {window_clauses}\n"
        f"  QUALIFY {ROW} IS NOT NULL)"
    )
    return [stream, features]


def _where(condition: str, feature: Feature) -> str:
    return condition if feature.where is None else f"{condition} AND ({feature.where})"


def _aggregate(
    feature: Feature,
    schema: Mapping[str, str],
    prefix: str,
    condition: str,
    *,
    ordered: bool,
    exact: Mapping[str, int] | None = None,
) -> str:
    """One feature's aggregate over the facts matching `condition`. `prefix` qualifies the
    fact columns; `ordered` adds floating-point numbers in event-time order, except those of
    the columns in `exact`, which add up exactly (in any order) on their scale."""
    column_type = schema.get(feature.column or "", "")
    column = (
        f"{prefix}{_KEY}" if feature.column is None else f"{prefix}{identifier(feature.column)}"
    )
    scale = (exact or {}).get(feature.column or "")
    if ordered and scale is not None and feature.aggregation in (Aggregation.SUM, Aggregation.MEAN):
        total = exact_sum(column, scale, condition)
        if feature.aggregation is Aggregation.SUM:
            return total
        return f"({total} / count({column}) FILTER (WHERE {condition}))"
    in_order = f" ORDER BY {prefix}{_KEY}" if ordered and not _is_integer(column_type) else ""
    kind = feature.aggregation
    expression = {
        Aggregation.COUNT: f"count({column})",
        Aggregation.SUM: f"sum({column}{in_order})",
        Aggregation.MEAN: f"avg({column}{in_order})",
        Aggregation.MIN: f"min({column})",
        Aggregation.MAX: f"max({column})",
        Aggregation.COUNT_DISTINCT: f"count(DISTINCT {column})",
    }[kind]
    aggregated = f"{expression} FILTER (WHERE {condition})"
    if kind is Aggregation.SUM and _is_integer(column_type):
        # DuckDB sums integers into a 128-bit integer, which Arrow would hand over as a decimal.
        return f"CAST({aggregated} AS BIGINT)"
    return aggregated


def _adds_floats(feature: Feature, schema: Mapping[str, str]) -> bool:
    """A sum or mean of a floating-point column: its last bits depend on the order it adds."""
    adds = feature.aggregation in (Aggregation.SUM, Aggregation.MEAN)
    return adds and not _is_integer(schema.get(feature.column or "", ""))


def _is_integer(type_name: str) -> bool:
    return is_numeric_type(type_name) and "int" in type_name
