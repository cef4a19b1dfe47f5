"""The statistics of an experiment's analysis, on per-unit arrays: Welch's t-test with its
confidence intervals, CUPED, and the sample-ratio-mismatch check.

Pure functions over numpy arrays (one value per unit); the analysis gathers the arrays from
the fact store. The assumptions: units are independent (the unit of analysis is the unit of
allocation), and each cell's mean is close to normal (the central limit theorem, for the
sample sizes experiments have); variances may differ between cells (Welch).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "SRM_THRESHOLD",
    "Comparison",
    "SampleRatio",
    "cuped",
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


def welch(treatment: Array, control: Array, *, alpha: float = 0.05) -> Comparison:
    """Welch's unequal-variances t-test of mean(treatment) - mean(control).

    The relative lift is diff / mean(control), its interval by the delta method (which also
    accounts for the uncertainty of the control mean). NaN where a cell has fewer than two
    units or no variance at all.
    """
    from scipy.special import ndtri, stdtr, stdtrit  # not scipy.stats: a third of the import

    n_t, n_c = len(treatment), len(control)
    if n_t < 2 or n_c < 2:
        return _undefined()
    mean_t, mean_c = float(np.mean(treatment)), float(np.mean(control))
    var_t, var_c = float(np.var(treatment, ddof=1)), float(np.var(control, ddof=1))
    se_t, se_c = var_t / n_t, var_c / n_c
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
    """CUPED: `values` minus theta * (covariate - its mean), theta = cov / var(covariate), and
    the share of the variance this removed (0 when the covariate has no variance).

    With theta estimated over all units of every cell together, the adjustment keeps each
    difference of means unbiased (the covariate is measured before exposure, so the treatment
    cannot move it) while removing the variance the covariate explains.
    """
    centered = covariate - np.mean(covariate)
    spread = float(np.dot(centered, centered))
    if spread == 0 or len(values) < 2:
        return values, 0.0
    theta = float(np.dot(centered, values - np.mean(values))) / spread
    adjusted = values - theta * centered
    before = float(np.var(values, ddof=1))
    reduction = 0.0 if before == 0 else 1 - float(np.var(adjusted, ddof=1)) / before
    return adjusted, reduction


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
