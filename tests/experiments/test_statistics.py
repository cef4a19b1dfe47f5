"""The statistics, checked against scipy on fixed data and by simulation: intervals cover the
truth, A/A tests rarely reject, a skewed split is flagged, CUPED removes variance."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from shipyard.experiments.statistics import cuped, sample_ratio, welch


def test_welch_agrees_with_scipy_on_fixed_data() -> None:
    rng = np.random.default_rng(7)
    treatment = rng.normal(10.5, 3.0, 400)
    control = rng.normal(10.0, 2.0, 300)

    ours = welch(treatment, control)
    theirs = stats.ttest_ind(treatment, control, equal_var=False)
    interval = theirs.confidence_interval(0.95)
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-9)
    assert ours.diff == pytest.approx(treatment.mean() - control.mean())
    assert (ours.diff_low, ours.diff_high) == pytest.approx((interval.low, interval.high))
    assert ours.lift == pytest.approx(ours.diff / control.mean())
    assert ours.lift_low < ours.lift < ours.lift_high


def test_the_interval_covers_a_known_effect_at_least_90_times_in_100() -> None:
    rng = np.random.default_rng(2026)
    effect = 0.3
    covered = 0
    for _ in range(100):
        control = rng.exponential(2.0, 500)
        treatment = rng.exponential(2.0, 500) + effect
        result = welch(treatment, control)
        covered += result.diff_low <= effect <= result.diff_high
    assert covered >= 90


def test_a_and_a_tests_reject_at_most_10_times_in_100() -> None:
    rng = np.random.default_rng(11)
    rejected = sum(
        welch(rng.normal(5, 2, 300), rng.normal(5, 2, 300)).p_value < 0.05 for _ in range(100)
    )
    assert rejected <= 10


def test_a_skewed_split_is_flagged_and_a_fair_one_is_not() -> None:
    skewed = sample_ratio(
        {"control": 5_000, "treatment": 5_400}, {"control": 0.5, "treatment": 0.5}
    )
    assert skewed.mismatch
    assert "SAMPLE RATIO MISMATCH" in skewed.describe()
    fair = sample_ratio({"control": 5_020, "treatment": 4_980}, {"control": 0.5, "treatment": 0.5})
    assert not fair.mismatch
    assert fair.p_value == pytest.approx(stats.chisquare([5_020, 4_980]).pvalue)


def test_cuped_reduces_the_variance_the_covariate_explains() -> None:
    rng = np.random.default_rng(3)
    before = rng.normal(50, 10, 2_000)
    cells = np.arange(2_000) % 2
    after = before * 0.8 + rng.normal(0, 4, 2_000) + 1.0 * cells  # true effect 1.0

    adjusted, reduction = cuped(after, before)
    correlation = np.corrcoef(after, before)[0, 1]
    assert reduction == pytest.approx(correlation**2, abs=1e-3)
    assert reduction > 0.7  # 64 of the 80 units of variance come from the covariate
    raw = welch(after[cells == 1], after[cells == 0])
    better = welch(adjusted[cells == 1], adjusted[cells == 0])
    assert better.diff_high - better.diff_low < (raw.diff_high - raw.diff_low) / 2
    assert better.diff_low <= 1.0 <= better.diff_high
