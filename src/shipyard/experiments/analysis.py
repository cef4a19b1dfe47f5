"""Analysing an experiment: exposures joined to outcomes in DuckDB, then Welch, CUPED and the
sample-ratio check per metric and cell (`statistics`).

Each unit's cell and first exposure come from the exposures table; its outcomes are the facts
of the outcomes table whose entity is the unit and whose event time is at or after that first
exposure (what happened before cannot be an effect), aggregated per unit as each metric says
(`conversions:sum`, `watch_minutes:mean`). A unit without outcomes counts 0 for `sum` and
`count` and is left out of `mean`, `min` and `max`. A covariate is a pre-period column of the
outcomes table: its per-unit mean over all the unit's facts, the overall mean where a unit has
none. Both tables are read with the fact store's as-of rule (the last restatement of a fact
wins), in one query over their Parquet files.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from shipyard.experiments.errors import SampleRatioMismatch
from shipyard.experiments.exposures import EXPOSURES
from shipyard.experiments.statistics import SampleRatio, cuped, sample_ratio, welch
from shipyard.features.fact_read import facts_source
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
    units = _per_unit(
        store.scan(EXPOSURES, as_of), outcome_scan, record.name, names, parsed, covariate
    )
    cells = units["cell"]
    counts = dict(zip(names, np.bincount(cells, minlength=len(names)).tolist(), strict=True))
    srm = sample_ratio(counts, {cell.name: cell.share for cell in definition.cells})
    if srm.mismatch:
        warnings.warn(f"experiment {record.name!r}: {srm.describe()}", SampleRatioMismatch, 2)
    covariates = None if covariate is None else _filled(units["covariate"])
    control = names.index(definition.control)
    rows: list[dict[str, Any]] = []
    for index, metric in enumerate(parsed):
        values = units[f"m{index}"]
        if metric.aggregation in _ZERO_WHEN_NONE:
            values = np.nan_to_num(values, nan=0.0)
        rows.extend(_compare(str(metric), values, cells, covariates, names, control, alpha))
    import pandas as pd

    return Analysis(
        record.name, definition.control, srm, pd.DataFrame(rows, columns=COLUMNS), covariate
    )


def _compare(
    metric: str,
    values: np.ndarray[Any, Any],
    cells: np.ndarray[Any, Any],
    covariates: np.ndarray[Any, Any] | None,
    names: Sequence[str],
    control: int,
    alpha: float,
) -> list[dict[str, Any]]:
    """The rows of one metric: the control's, then each other cell's against it (`cells`
    holds each unit's index into `names`)."""
    present = ~np.isnan(values)
    values, cells = values[present], cells[present]
    adjusted, reduction = values, math.nan
    if covariates is not None:
        adjusted, reduction = cuped(values, covariates[present])
    in_control = cells == control
    rows = [_row(metric, names[control], values[in_control])]
    for index, cell in enumerate(names):
        if index == control:
            continue
        chosen = cells == index
        comparison = welch(adjusted[chosen], adjusted[in_control], alpha=alpha)
        row = _row(metric, cell, values[chosen])
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


def _row(metric: str, cell: str, values: np.ndarray[Any, Any]) -> dict[str, Any]:
    return {
        "metric": metric,
        "cell": cell,
        "units": len(values),
        "mean": float(np.mean(values)) if len(values) else math.nan,
    }


def _filled(column: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """`column` with the mean of its values where it has none."""
    values = column.copy()
    missing = np.isnan(values)
    if missing.all():
        return np.zeros_like(values)
    values[missing] = float(np.mean(values[~missing]))
    return values


def _check_columns(scan: FactScan, columns: Sequence[str]) -> None:
    unknown = [column for column in columns if column not in scan.schema]
    if unknown:
        raise ValueError(
            f"fact table {scan.table!r} has no column {', '.join(map(repr, unknown))}; its "
            f"columns: {', '.join(scan.schema)}"
        )


def _visible(scan: FactScan, columns: str) -> str:
    """The visible version of each fact of `scan` (the fact store's as-of rule), as SQL."""
    filtered = ""
    if scan.as_of is not None:
        filtered = f"WHERE {identifier(RECORDED_AT)} <= TIMESTAMPTZ '{scan.as_of.isoformat()}'"
    entity, event_time = identifier(scan.entity), identifier(scan.event_time)
    return f"""
        SELECT {columns} FROM {facts_source(scan)} {filtered}
        QUALIFY row_number() OVER (
            PARTITION BY {entity}, {event_time} ORDER BY {identifier(RECORDED_AT)} DESC
        ) = 1
    """


def _per_unit(
    exposures: FactScan,
    outcomes: FactScan,
    experiment: str,
    cells: Sequence[str],
    metrics: Sequence[Metric],
    covariate: str | None,
) -> dict[str, np.ndarray[Any, Any]]:
    """One entry per exposed unit: its cell (an index into `cells`), each metric's aggregate
    after its first exposure (`m0`, `m1`, ...; NaN for none) and the covariate's mean.

    A unit's first exposure needs no as-of rule: a restated exposure has the same unit and
    time, so the earliest time (and its cell) stays what it was.
    """
    import duckdb

    names = [f"m{i}" for i in range(len(metrics))]
    if not exposures.files:
        return {"cell": np.zeros(0, dtype=np.int64)} | {
            name: np.zeros(0) for name in [*names, "covariate"]
        }
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
        empty = ", ".join(f"NULL::DOUBLE AS {name}" for name in names)
        sql = f"SELECT cell, {empty}, NULL::DOUBLE AS covariate FROM ({first})"
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
            f"{AGGREGATIONS[metric.aggregation]}(o.{identifier('c_' + metric.column)}) "
            f"FILTER (WHERE o.ts >= f.first_ts) AS {name}"
            for name, metric in zip(names, metrics, strict=True)
        )
        cov = f"AVG(o.{identifier('c_' + covariate)})" if covariate else "NULL::DOUBLE"
        sql = f"""
            SELECT f.cell, {aggregates}, {cov} AS covariate
            FROM ({first}) f LEFT JOIN ({_visible(outcomes, selected)}) o ON o.unit = f.unit
            GROUP BY f.unit, f.cell
        """
    with duckdb.connect() as connection:
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute("SET enable_progress_bar = false")
        table = connection.sql(sql, params={"experiment": experiment}).to_arrow_table()
    result = {"cell": table.column("cell").to_numpy(zero_copy_only=False).astype(np.int64)}
    for name in [*names, "covariate"]:
        values = table.column(name).cast("double").to_numpy(zero_copy_only=False)
        result[name] = np.array(values, dtype=float)  # writable, NaN for null
    return result
