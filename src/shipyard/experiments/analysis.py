"""Analysing an experiment: exposures joined to outcomes in DuckDB, then Welch, CUPED and the
sample-ratio check per metric and cell (`statistics`).

Each unit's cell and first exposure come from the exposures table; its outcomes are the facts
of the outcomes table whose entity is the unit and whose event time is at or after that first
exposure (what happened before cannot be an effect), aggregated per unit as each metric says
(`conversions:sum`, `watch_minutes:mean`). A unit without outcomes counts 0 for `sum` and
`count` and is left out of `mean`, `min` and `max`. A covariate is a pre-period column of the
outcomes table: its per-unit mean over all the unit's facts, the overall mean where a unit has
none. Both tables are read with the fact store's as-of rule (the last restatement of a fact
wins; skipped where the outcome files' footers prove there is none, `may_restate`), in one
query over their Parquet files per entity-hash bucket (`_partitions`).

The query ends in each cell's moments (`statistics.Moments`: count, mean, sums of squares and
co-moment with the covariate), split by whether a unit has a covariate, so that only a few
numbers per cell leave DuckDB however many units there are; the units without a covariate
take the overall mean as theirs when the parts are added up here (moments of parts add up
exactly, so the buckets' results combine too).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from shipyard.experiments.errors import SampleRatioMismatch
from shipyard.experiments.exposures import EXPOSURES
from shipyard.experiments.statistics import (
    Moments,
    SampleRatio,
    compare,
    cuped_adjust,
    sample_ratio,
)
from shipyard.features.fact_read import facts_source
from shipyard.features.restatements import may_restate
from shipyard.features.scan import RECORDED_AT, FactScan
from shipyard.features.sql_text import identifier, literal

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.features.facts import FactStore
    from shipyard.metadata.experiment_records import ExperimentRecord

__all__ = ["AGGREGATIONS", "Analysis", "Metric", "analyze"]

#: How a metric aggregates a unit's outcomes, and the SQL that does it.
AGGREGATIONS = {"sum": "SUM", "mean": "AVG", "count": "COUNT", "min": "MIN", "max": "MAX"}
#: Aggregations for which a unit without outcomes counts 0 (the others leave it out).
_ZERO_WHEN_NONE = {"sum", "count"}
COLUMNS = [
    "metric",
    "cell",
    "units",
    "mean",
    "diff",
    "diff_low",
    "diff_high",
    "lift",
    "lift_low",
    "lift_high",
    "p_value",
    "variance_reduction",
]


@dataclass(frozen=True)
class Metric:
    """A column of the outcomes table and how it aggregates per unit."""

    column: str
    aggregation: str = "sum"

    @classmethod
    def parse(cls, text: str | Metric) -> Metric:
        """`column:aggregation` (`conversions:sum`); `column` alone sums."""
        if isinstance(text, Metric):
            return text
        column, _, aggregation = text.partition(":")
        aggregation = aggregation or "sum"
        if not column or aggregation not in AGGREGATIONS:
            raise ValueError(
                f"metric {text!r} is not COLUMN:AGGREGATION; aggregations: "
                f"{', '.join(AGGREGATIONS)} (conversions:sum, watch_minutes:mean)"
            )
        return cls(column, aggregation)

    def __str__(self) -> str:
        return f"{self.column}:{self.aggregation}"


@dataclass(frozen=True)
class Analysis:
    """An experiment's results: one row per metric and cell in `frame` (the columns of
    `COLUMNS`; the control's row has its units and mean only), and the sample-ratio check."""

    experiment: str
    control: str
    srm: SampleRatio
    frame: pd.DataFrame
    covariate: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (NaN as None), what `--json` prints."""
        return {
            "experiment": self.experiment,
            "control": self.control,
            "covariate": self.covariate,
            "srm": {
                "observed": self.srm.observed,
                "expected": self.srm.expected,
                "p_value": self.srm.p_value,
                "mismatch": self.srm.mismatch,
            },
            "results": [
                {key: _finite(value) for key, value in row.items()}
                for row in self.frame.to_dict(orient="records")
            ],
        }


def _finite(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def analyze(
    record: ExperimentRecord,
    store: FactStore,
    metrics: Iterable[str | Metric],
    *,
    outcomes: str = "outcomes",
    covariate: str | None = None,
    alpha: float = 0.05,
    as_of: datetime | None = None,
) -> Analysis:
    """Analyse experiment `record` from the facts of `store` (see the module docstring).

    Warns with `SampleRatioMismatch` when the units per cell do not fit the allocation.
    """
    parsed = [Metric.parse(metric) for metric in metrics]
    if not parsed:
        raise ValueError("give at least one metric to analyse (conversions:sum)")
    outcome_scan = store.scan(outcomes, as_of)
    _check_columns(outcome_scan, [m.column for m in parsed] + ([covariate] if covariate else []))
    definition = record.definition
    names = [cell.name for cell in definition.cells]
    cells = _cell_moments(
        store.scan(EXPOSURES, as_of), outcome_scan, record.name, names, parsed, covariate
    )
    counts = {name: cell.units for name, cell in zip(names, cells, strict=True)}
    srm = sample_ratio(counts, {cell.name: cell.share for cell in definition.cells})
    if srm.mismatch:
        warnings.warn(f"experiment {record.name!r}: {srm.describe()}", SampleRatioMismatch, 2)
    control = names.index(definition.control)
    rows: list[dict[str, Any]] = []
    for index, metric in enumerate(parsed):
        moments = [cell.metrics[index] for cell in cells]
        rows.extend(_compare(str(metric), moments, covariate is not None, names, control, alpha))
    import pandas as pd

    return Analysis(
        record.name, definition.control, srm, pd.DataFrame(rows, columns=COLUMNS), covariate
    )


def _compare(
    metric: str,
    moments: Sequence[Moments],
    adjust: bool,
    names: Sequence[str],
    control: int,
    alpha: float,
) -> list[dict[str, Any]]:
    """The rows of one metric: the control's, then each other cell's against it (`moments`
    holds each cell's, in the order of `names`; with their covariate when `adjust`)."""
    adjusted, reduction = list(moments), math.nan
    if adjust:
        adjusted, reduction = cuped_adjust(moments)
    rows = [_row(metric, names[control], moments[control])]
    for index, cell in enumerate(names):
        if index == control:
            continue
        comparison = compare(adjusted[index], adjusted[control], alpha=alpha)
        row = _row(metric, cell, moments[index])
        row.update(
            diff=comparison.diff,
            diff_low=comparison.diff_low,
            diff_high=comparison.diff_high,
            lift=comparison.lift,
            lift_low=comparison.lift_low,
            lift_high=comparison.lift_high,
            p_value=comparison.p_value,
            variance_reduction=reduction,
        )
        rows.append(row)
    return rows


def _row(metric: str, cell: str, moments: Moments) -> dict[str, Any]:
    return {
        "metric": metric,
        "cell": cell,
        "units": moments.n,
        "mean": moments.mean if moments.n else math.nan,
    }


def _check_columns(scan: FactScan, columns: Sequence[str]) -> None:
    unknown = [column for column in columns if column not in scan.schema]
    if unknown:
        raise ValueError(
            f"fact table {scan.table!r} has no column {', '.join(map(repr, unknown))}; its "
            f"columns: {', '.join(scan.schema)}"
        )


def _visible(scan: FactScan, columns: str, restated: bool) -> str:
    """The visible version of each fact of `scan` (the fact store's as-of rule), as SQL; a
    plain read when not `restated` (the files prove that no fact restates another)."""
    filtered = ""
    if scan.as_of is not None:
        filtered = f"WHERE {identifier(RECORDED_AT)} <= TIMESTAMPTZ '{scan.as_of.isoformat()}'"
    source = f"SELECT {columns} FROM {facts_source(scan)} {filtered}"
    if not restated:
        return source
    entity, event_time = identifier(scan.entity), identifier(scan.event_time)
    return f"""
        {source}
        QUALIFY row_number() OVER (
            PARTITION BY {entity}, {event_time} ORDER BY {identifier(RECORDED_AT)} DESC
        ) = 1
    """


def _partitions(exposures: FactScan, outcomes: FactScan) -> list[tuple[FactScan, FactScan]]:
    """The scans split by entity-hash bucket where both tables are bucketed alike (the same
    entity type, no registered files), so that each query joins and groups a bucket's units
    only: tables a sixteenth the size stay in the CPU's caches, which makes the whole about
    twice as fast as one query. Otherwise, the scans whole."""
    alike = exposures.schema[exposures.entity] == outcomes.schema[outcomes.entity]
    registered = any(at is not None for at in (*exposures.registered_at, *outcomes.registered_at))
    if not alike or registered:
        return [(exposures, outcomes)]

    def bucket(scan: FactScan, folder: str) -> FactScan:
        files = tuple(path for path in scan.files if path.rsplit("/", 2)[-2] == folder)
        return replace(scan, files=files, registered_at=())

    folders = sorted({path.rsplit("/", 2)[-2] for path in exposures.files})  # bucket folders
    return [(bucket(exposures, folder), bucket(outcomes, folder)) for folder in folders]


@dataclass(frozen=True)
class _Cell:
    """One cell's exposed units, and each metric's moments over the units it has a value for
    (with the covariate's, when one is given)."""

    units: int
    metrics: list[Moments]


def _cell_moments(
    exposures: FactScan,
    outcomes: FactScan,
    experiment: str,
    cells: Sequence[str],
    metrics: Sequence[Metric],
    covariate: str | None,
) -> list[_Cell]:
    """Each of `cells`' units and metric moments, from one query per partition (see the
    module docstring).

    A unit's first exposure needs no as-of rule: a restated exposure has the same unit and
    time, so the earliest time (and its cell) stays what it was.
    """
    import duckdb

    if not exposures.files:
        return [_Cell(0, [Moments(0) for _ in metrics]) for _ in cells]
    restated = bool(outcomes.files) and may_restate(outcomes)
    rows: list[dict[str, Any]] = []
    with duckdb.connect() as connection:
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute("SET enable_progress_bar = false")
        for exposed, outcome in _partitions(exposures, outcomes):
            sql = _moments_sql(exposed, outcome, cells, metrics, covariate, restated)
            result = connection.sql(sql, params={"experiment": experiment})
            rows += [dict(zip(result.columns, row, strict=True)) for row in result.fetchall()]
    return _cells_of(rows, len(cells), len(metrics))


def _moments_sql(
    exposures: FactScan,
    outcomes: FactScan,
    cells: Sequence[str],
    metrics: Sequence[Metric],
    covariate: str | None,
    restated: bool,
) -> str:
    """The query of `_cell_moments`: one row per cell and covariate presence (`has_x`)."""
    names = [f"m{i}" for i in range(len(metrics))]
    index = " ".join(f"WHEN {literal(cell)} THEN {i}" for i, cell in enumerate(cells))
    recorded = ""
    if exposures.as_of is not None:
        recorded = f"AND {identifier(RECORDED_AT)} <= TIMESTAMPTZ '{exposures.as_of.isoformat()}'"
    first = f"""
        SELECT unit, min(ts) AS first_ts, CASE arg_min(cell, ts) {index} END AS cell
        FROM {facts_source(exposures)} WHERE experiment = $experiment {recorded}
        GROUP BY unit
    """
    if not outcomes.files:
        nones = ", ".join(_none_value(m, n) for m, n in zip(metrics, names, strict=True))
        per_unit = f"SELECT cell, {nones}, NULL::DOUBLE AS x FROM ({first})"
    else:
        wanted = {metric.column for metric in metrics} | ({covariate} if covariate else set())
        selected = ", ".join(
            [
                f"CAST({identifier(outcomes.entity)} AS VARCHAR) AS unit",
                f"{identifier(outcomes.event_time)} AS ts",
                *(f"{identifier(column)} AS {identifier('c_' + column)}" for column in wanted),
            ]
        )
        aggregates = ", ".join(
            _unit_aggregate(metric, name) for name, metric in zip(names, metrics, strict=True)
        )
        x = f"AVG(o.{identifier('c_' + covariate)})" if covariate else "NULL::DOUBLE"
        visible = _visible(outcomes, selected, restated)
        per_unit = f"""
            SELECT any_value(f.cell) AS cell, {aggregates}, {x}::DOUBLE AS x
            FROM ({first}) f LEFT JOIN ({visible}) o ON o.unit = f.unit
            GROUP BY f.unit
        """
    moments = ", ".join(
        f"""count({m}) AS n_{m}, avg({m})::DOUBLE AS mean_{m},
            (var_pop({m}) * count({m}))::DOUBLE AS m2_{m},
            avg(x) FILTER (WHERE {m} IS NOT NULL) AS mean_x_{m},
            (var_pop(x) FILTER (WHERE {m} IS NOT NULL) * count({m}))::DOUBLE AS m2_x_{m},
            (covar_pop(x, {m}) * count({m}))::DOUBLE AS co_{m}"""
        for m in names
    )
    return f"""
        SELECT cell, x IS NOT NULL AS has_x, count(*) AS units, count(x) AS n_x,
            avg(x) AS mean_x, {moments}
        FROM ({per_unit}) WHERE cell IS NOT NULL
        GROUP BY cell, has_x
    """


def _unit_aggregate(metric: Metric, name: str) -> str:
    """A unit's value of `metric`: its outcomes after its first exposure, aggregated; 0 for
    none where the aggregation counts or sums."""
    value = (
        f"{AGGREGATIONS[metric.aggregation]}(o.{identifier('c_' + metric.column)}) "
        "FILTER (WHERE o.ts >= f.first_ts)"
    )
    if metric.aggregation in _ZERO_WHEN_NONE:
        value = f"COALESCE({value}, 0)"
    return f"({value})::DOUBLE AS {name}"


def _none_value(metric: Metric, name: str) -> str:
    """A unit's value of `metric` when the outcomes table has no facts at all."""
    return f"{'0' if metric.aggregation in _ZERO_WHEN_NONE else 'NULL'}::DOUBLE AS {name}"


def _cells_of(rows: list[dict[str, Any]], cells: int, metrics: int) -> list[_Cell]:
    """The cells' units and moments from the rows of `_moments_sql`: the units without a
    covariate take the mean covariate of those with one (0 when none has one)."""
    with_x = [row for row in rows if row["has_x"]]
    total_x = sum(row["n_x"] for row in with_x)
    mean_x = sum(row["n_x"] * row["mean_x"] for row in with_x) / total_x if total_x else 0.0
    units = [0] * cells
    moments = [[Moments(0) for _ in range(metrics)] for _ in range(cells)]
    for row in rows:
        cell = int(row["cell"])
        units[cell] += int(row["units"])
        for index in range(metrics):
            moments[cell][index] += _moments_of(row, f"m{index}", mean_x)
    return [_Cell(count, metric) for count, metric in zip(units, moments, strict=True)]


def _moments_of(row: dict[str, Any], name: str, mean_x: float) -> Moments:
    n = int(row[f"n_{name}"])
    if n == 0:
        return Moments(0)
    moments = Moments(n, float(row[f"mean_{name}"]), float(row[f"m2_{name}"]))
    if not row["has_x"]:
        return replace(moments, mean_x=mean_x)
    return replace(
        moments,
        mean_x=float(row[f"mean_x_{name}"]),
        m2_x=float(row[f"m2_x_{name}"]),
        co_moment=float(row[f"co_{name}"]),
    )
