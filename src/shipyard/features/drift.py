"""Drift: the served inputs of a model compared, column by column, with its training snapshot.

Two statistics per column, each with a threshold above which the column is flagged:

- the **population stability index** (PSI), `sum((served - trained) * ln(served / trained))`
  over bins: for a numeric column the deciles of the training distribution (ties merged, so a
  0/1 column has two bins) plus one bin for nulls; for a categorical column each value kept in
  the snapshot, one bin for the others and one for nulls. Empty bins count as 0.01% so the
  logarithm stays finite. The usual reading: below 0.1 stable, 0.1 to 0.25 moderate, above
  0.25 a shift; the default threshold is 0.2.
- the **Kolmogorov-Smirnov statistic** (numeric columns only): the largest distance between
  the training and the served cumulative distributions of the non-null values, 0 (same) to 1
  (disjoint); default threshold 0.1. A few served vectors differ from training by chance, so
  the statistic is flagged only when it is also significant at the 1% level (above
  `1.63 * sqrt((n + m) / (n * m))` for n training and m served values: 0.16 for 100 served,
  0.05 for 1,000).

PSI has no such correction: under a few hundred served vectors it is noisy (about 0.1 from
chance alone at 100), so judge a report by its `served` count.

Pure computation, no I/O: the caller reads the served vectors and the snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shipyard.features.snapshot import ColumnKind, ColumnProfile, TrainingSnapshot, finite

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["DEFAULT_KS", "DEFAULT_PSI", "ColumnDrift", "DriftReport", "Thresholds", "drift"]

DEFAULT_PSI = 0.2
DEFAULT_KS = 0.1
#: The share an empty bin counts as, so that PSI's logarithm stays finite.
_EMPTY = 1e-4
#: The training quantiles whose values bound a numeric column's PSI bins.
_DECILES = tuple(range(100, 1000, 100))
#: The Kolmogorov-Smirnov coefficient of the 1% significance level.
_KS_1PCT = 1.63


@dataclass(frozen=True)
class Thresholds:
    """Above these, a column is flagged."""

    psi: float = DEFAULT_PSI
    ks: float = DEFAULT_KS


@dataclass(frozen=True)
class ColumnDrift:
    """One column's comparison; `ks` is None for a categorical column."""

    column: str
    kind: ColumnKind
    trained: int
    served: int
    psi: float
    ks: float | None
    flagged: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind.value,
            "trained": self.trained,
            "served": self.served,
            "psi": self.psi,
            "ks": self.ks,
            "flagged": self.flagged,
        }


@dataclass(frozen=True)
class DriftReport:
    """Every input column's drift, in the snapshot's column order."""

    columns: tuple[ColumnDrift, ...]
    thresholds: Thresholds
    served: int

    @property
    def flagged(self) -> list[str]:
        return [c.column for c in self.columns if c.flagged]

    def to_json(self) -> dict[str, Any]:
        return {
            "served": self.served,
            "thresholds": {"psi": self.thresholds.psi, "ks": self.thresholds.ks},
            "flagged": self.flagged,
            "columns": [c.to_json() for c in self.columns],
        }


def drift(
    snapshot: TrainingSnapshot, served: pd.DataFrame, thresholds: Thresholds | None = None
) -> DriftReport:
    """Compare the served inputs `served` (one row per served vector, a column per input;
    a column it lacks counts as all null) with `snapshot`."""
    import pandas as pd

    limits = thresholds or Thresholds()
    results = []
    for profile in snapshot.columns:
        values = (
            served[profile.name]
            if profile.name in served.columns
            else pd.Series([None] * len(served), dtype="object")
        )
        ks: float | None = None
        if profile.kind is ColumnKind.NUMERIC:
            psi, ks, compared = _numeric(profile, values)
            ks_limit = max(limits.ks, _ks_critical(profile.count - profile.nulls, compared))
        else:
            psi = _categorical(profile, values)
        flagged = psi > limits.psi or (ks is not None and ks > ks_limit)
        results.append(
            ColumnDrift(profile.name, profile.kind, profile.count, len(values), psi, ks, flagged)
        )
    return DriftReport(tuple(results), limits, len(served))


def _numeric(profile: ColumnProfile, values: pd.Series) -> tuple[float, float, int]:
    """PSI, the KS statistic, and how many served numbers the statistic compared."""
    import numpy as np

    numbers = finite(values)
    trained = np.asarray(profile.quantiles, dtype="float64")
    if not len(trained) or not len(numbers):
        # One side has no numbers: only the null bins can be compared.
        nulls = (
            _share(profile.nulls, profile.count),
            _share(len(values) - len(numbers), len(values)),
        )
        psi = _psi(np.array([nulls[0], 1 - nulls[0]]), np.array([nulls[1], 1 - nulls[1]]))
        return psi, 0.0, 0
    edges = np.unique(trained[list(_DECILES)])
    present = 1 - _share(profile.nulls, profile.count)
    expected = np.diff(_trained_cdf(trained, edges), prepend=0.0, append=1.0) * present
    counts = np.bincount(np.searchsorted(edges, numbers, side="left"), minlength=len(edges) + 1)
    observed = counts / max(len(values), 1)
    psi = _psi(
        np.append(expected, 1 - present),
        np.append(observed, (len(values) - len(numbers)) / max(len(values), 1)),
    )
    return psi, _ks(trained, numbers), len(numbers)


def _categorical(profile: ColumnProfile, values: pd.Series) -> float:
    import numpy as np

    present = values.dropna().astype(str)
    counts = present.value_counts()
    kept = list(profile.values)
    trained_other = profile.count - profile.nulls - sum(profile.values.values())
    expected = [profile.values[v] for v in kept] + [trained_other, profile.nulls]
    served_known = [int(counts.get(v, 0)) for v in kept]
    observed = [*served_known, len(present) - sum(served_known), len(values) - len(present)]
    return _psi(
        np.array(expected, dtype="float64") / max(profile.count, 1),
        np.array(observed, dtype="float64") / max(len(values), 1),
    )


def _trained_cdf(quantiles: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The training distribution's cumulative share at each of `points` (values <= point),
    read off the evenly spaced quantiles."""
    import numpy as np

    result: np.ndarray = np.searchsorted(quantiles, points, side="right") / len(quantiles)
    return result


def _ks(trained: np.ndarray, served: np.ndarray) -> float:
    import numpy as np

    served = np.sort(served)
    points = np.union1d(trained, served)
    ours = np.searchsorted(served, points, side="right") / len(served)
    return float(np.max(np.abs(_trained_cdf(trained, points) - ours)))


def _ks_critical(trained: int, served: int) -> float:
    """The KS statistic two samples of these sizes exceed by chance 1% of the time."""
    if trained <= 0 or served <= 0:
        return 1.0
    return _KS_1PCT * float((trained + served) / (trained * served)) ** 0.5


def _psi(expected: np.ndarray, observed: np.ndarray) -> float:
    import numpy as np

    e = np.maximum(expected, _EMPTY)
    o = np.maximum(observed, _EMPTY)
    return float(np.sum((o - e) * np.log(o / e)))


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0
