"""The statistics of an experiment's analysis: Welch's t-test with its confidence intervals,
CUPED, and the sample-ratio-mismatch check.

Welch and CUPED need only each cell's moments (count, mean, sum of squared deviations, and
with a covariate its mean, sum of squares and co-moment with the metric), so they work on
`Moments`: the analysis has DuckDB compute them per cell over millions of units and brings
back a few numbers, never the units. `welch` and `cuped` take per-unit arrays (one value per
unit) and reduce them to the same moments.

The assumptions: units are independent (the unit of analysis is the unit of allocation), and
each cell's mean is close to normal (the central limit theorem, for the
sample sizes experiments have); variances may differ between cells (Welch).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "SRM_THRESHOLD",
    "Comparison",
    "Moments",
    "SampleRatio",
    "compare",
    "cuped",
    "cuped_adjust",
    "sample_ratio",
    "welch",
]

#: The p-value below which the sample-ratio check reports a mismatch. Strict, because it runs
#: on every analysis and a false alarm costs an investigation.
SRM_THRESHOLD = 0.001

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Comparison:
    """A treatment cell against control: the difference of means and the relative lift,
    each with its (1 - alpha) confidence interval, and the two-sided p-value."""

    diff: float
    diff_low: float
    diff_high: float
    lift: float
    lift_low: float
    lift_high: float
    p_value: float


@dataclass(frozen=True)
class Moments:
    """A sample's count, mean and sum of squared deviations from the mean (`m2`), and, with a
    covariate x, its mean, sum of squares and co-moment with the values (sum of
    (x - mean_x) * (y - mean)). Moments of two samples add up to the moments of both
    (`+`, Chan et al.'s pairwise update), exactly, in any order."""

    n: int
    mean: float = 0.0
    m2: float = 0.0
    mean_x: float = 0.0
    m2_x: float = 0.0
    co_moment: float = 0.0

    @classmethod
    def of(cls, values: Array, covariate: Array | None = None) -> Moments:
        """The moments of `values` (and of `covariate`, one value per unit as well)."""
        n = len(values)
        if n == 0:
            return cls(0)
        mean = float(np.mean(values))
        centered = values - mean
        m2 = float(np.dot(centered, centered))
        if covariate is None:
            return cls(n, mean, m2)
        mean_x = float(np.mean(covariate))
        x = covariate - mean_x
        return cls(n, mean, m2, mean_x, float(np.dot(x, x)), float(np.dot(x, centered)))

    @property
    def variance(self) -> float:
        """The sample variance of the values (n - 1 degrees of freedom); NaN below 2."""
        return self.m2 / (self.n - 1) if self.n > 1 else math.nan

    def __add__(self, other: Moments) -> Moments:
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        n = self.n + other.n
        weight = self.n * other.n / n
        dy, dx = other.mean - self.mean, other.mean_x - self.mean_x
        return Moments(
            n,
            self.mean + dy * other.n / n,
            self.m2 + other.m2 + dy * dy * weight,
            self.mean_x + dx * other.n / n,
            self.m2_x + other.m2_x + dx * dx * weight,
            self.co_moment + other.co_moment + dx * dy * weight,
        )


def welch(treatment: Array, control: Array, *, alpha: float = 0.05) -> Comparison:
    """Welch's unequal-variances t-test of mean(treatment) - mean(control) (see `compare`)."""
    return compare(Moments.of(treatment), Moments.of(control), alpha=alpha)


def compare(treatment: Moments, control: Moments, *, alpha: float = 0.05) -> Comparison:
    """Welch's unequal-variances t-test of the treatment's mean minus the control's, from the
    two cells' moments.

    The relative lift is diff / mean(control), its interval by the delta method (which also
    accounts for the uncertainty of the control mean). NaN where a cell has fewer than two
    units or no variance at all.
    """
    from scipy.special import ndtri, stdtr, stdtrit  # not scipy.stats: a third of the import

    n_t, n_c = treatment.n, control.n
    if n_t < 2 or n_c < 2:
        return _undefined()
    mean_t, mean_c = treatment.mean, control.mean
    se_t, se_c = treatment.variance / n_t, control.variance / n_c
    se = math.sqrt(se_t + se_c)
    diff = mean_t - mean_c
    if se == 0:
        return _undefined(diff)
    df = (se_t + se_c) ** 2 / (se_t**2 / (n_t - 1) + se_c**2 / (n_c - 1))
    p_value = float(2 * stdtr(df, -abs(diff / se)))
    margin = float(stdtrit(df, 1 - alpha / 2)) * se
    if mean_c == 0:
        lift = lift_low = lift_high = math.nan
    else:
        lift = diff / mean_c
        lift_se = math.sqrt(se_t / mean_c**2 + mean_t**2 * se_c / mean_c**4)
        z = float(ndtri(1 - alpha / 2))
        lift_low, lift_high = lift - z * lift_se, lift + z * lift_se
    return Comparison(diff, diff - margin, diff + margin, lift, lift_low, lift_high, p_value)


def _undefined(diff: float = math.nan) -> Comparison:
    nan = math.nan
    return Comparison(diff, nan, nan, nan, nan, nan, nan)


def cuped(values: Array, covariate: Array) -> tuple[Array, float]:
    """CUPED on per-unit arrays: `values` minus theta * (covariate - its mean), and the share
    of the variance this removed (see `cuped_adjust`)."""
    pooled = Moments.of(values, covariate)
    theta = _theta(pooled)
    if theta == 0:
        return values, 0.0
    return values - theta * (covariate - pooled.mean_x), _reduction(pooled, theta)


def cuped_adjust(cells: Sequence[Moments]) -> tuple[list[Moments], float]:
    """CUPED on the cells' moments (each with its covariate): the moments of each cell's
    adjusted values y - theta * (x - mean of x over every cell), theta = cov / var(x) over
    every unit of every cell, and the share of the variance this removed (0 when the
    covariate has no variance).

    With theta estimated over all units of every cell together, the adjustment keeps each
    difference of means unbiased (the covariate is measured before exposure, so the treatment
    cannot move it) while removing the variance the covariate explains.
    """
    pooled = sum(cells, Moments(0))
    theta = _theta(pooled)
    if theta == 0:
        return [Moments(cell.n, cell.mean, cell.m2) for cell in cells], 0.0
    return [_adjusted(cell, theta, pooled.mean_x) for cell in cells], _reduction(pooled, theta)


def _theta(pooled: Moments) -> float:
    if pooled.m2_x == 0 or pooled.n < 2:
        return 0.0
    return pooled.co_moment / pooled.m2_x


def _adjusted(cell: Moments, theta: float, mean_x: float) -> Moments:
    """The moments of y - theta * (x - mean_x) over `cell` (a linear map of y and x)."""
    m2 = cell.m2 - 2 * theta * cell.co_moment + theta * theta * cell.m2_x
    return Moments(cell.n, cell.mean - theta * (cell.mean_x - mean_x), max(0.0, m2))


def _reduction(pooled: Moments, theta: float) -> float:
    if pooled.m2 == 0:
        return 0.0
    return 1 - _adjusted(pooled, theta, pooled.mean_x).m2 / pooled.m2


@dataclass(frozen=True)
class SampleRatio:
    """The sample-ratio-mismatch check: units per cell against the allocation."""

    observed: dict[str, int]
    expected: dict[str, float]
    p_value: float
    threshold: float = SRM_THRESHOLD

    @property
    def mismatch(self) -> bool:
        """Whether the split is too unlike the allocation to trust the comparison."""
        return self.p_value < self.threshold

    def describe(self) -> str:
        """One sentence for a warning: what was expected, what was seen, and what it means."""
        seen = ", ".join(
            f"{cell} {count:,} ({count / max(1, sum(self.observed.values())):.2%}, "
            f"expected {self.expected[cell]:.2%})"
            for cell, count in self.observed.items()
        )
        return (
            f"SAMPLE RATIO MISMATCH (chi-square p = {self.p_value:.2g} < {self.threshold:g}): "
            f"{seen}. Units are missing from some cell (exposure logging, bot filtering, a "
            "routing bug); the comparison is not trustworthy until the cause is found"
        )


def sample_ratio(
    observed: Mapping[str, int], shares: Mapping[str, float], *, threshold: float = SRM_THRESHOLD
) -> SampleRatio:
    """Pearson's chi-square test of the units per cell against the allocation's shares."""
    from scipy.special import chdtrc

    cells = list(shares)
    counts = np.array([observed.get(cell, 0) for cell in cells], dtype=float)
    total = counts.sum()
    if total == 0 or len(cells) < 2:
        p_value = 1.0
    else:
        expected = np.array([shares[cell] for cell in cells]) * total
        statistic = float(np.sum((counts - expected) ** 2 / expected))
        p_value = float(chdtrc(len(cells) - 1, statistic))
    return SampleRatio(
        observed={cell: int(observed.get(cell, 0)) for cell in cells},
        expected={cell: float(shares[cell]) for cell in cells},
        p_value=p_value,
        threshold=threshold,
    )
