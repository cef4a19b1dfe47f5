"""Judging goals: a figure over repeated runs, the statistic a goal uses, and the verdict.

A goal must not pass by accident. A figure whose runs did not all succeed, or that has no
runs at all, has no value under any statistic, and a goal without a value is a FAIL (marked
"not measured"), never a pass. Each goal names its statistic (the median of the runs, or
the best run: fastest, highest); when the other statistic would give the other verdict,
the goal says so, so a pass that hangs on the choice is visible.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum


class Statistic(Enum):
    """How the runs of one case become one figure."""

    MEDIAN = "median"
    BEST = "best"

    def describe(self, runs: int) -> str:
        if runs == 1:
            return "the one run"
        return f"median of {runs} runs" if self is Statistic.MEDIAN else f"best of {runs} runs"

    @property
    def other(self) -> Statistic:
        return Statistic.BEST if self is Statistic.MEDIAN else Statistic.MEDIAN


class Verdict(Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    # Counts as a failure everywhere: the goal's figure could not be measured.
    NOT_MEASURED = "FAIL (not measured)"

    @property
    def passed(self) -> bool:
        return self is Verdict.PASS


@dataclass(frozen=True)
class Figure:
    """One quantity over the runs of a case; None stands for a run that failed.

    `lower_is_better` says which run is the best: the fastest time, or the highest rate.
    """

    runs: tuple[float | None, ...]
    lower_is_better: bool = True

    @classmethod
    def of(cls, runs: Sequence[float | None], lower_is_better: bool = True) -> Figure:
        return cls(tuple(runs), lower_is_better)

    @property
    def complete(self) -> bool:
        """Some runs, and all of them succeeded."""
        return bool(self.runs) and all(value is not None for value in self.runs)

    def value(self, statistic: Statistic) -> float | None:
        """The figure under `statistic`; None unless every run succeeded."""
        if not self.complete:
            return None
        values = [value for value in self.runs if value is not None]
        if statistic is Statistic.MEDIAN:
            return statistics.median(values)
        return min(values) if self.lower_is_better else max(values)

    def __len__(self) -> int:
        return len(self.runs)


# A goal's measure: its value under a statistic (None when not measured).
Measure = Callable[[Statistic], float | None]


@dataclass
class Goal:
    """A target from the project's goals, judged by one stated statistic."""

    goal: str
    statistic: str
    measured: str
    verdict: Verdict
    # What the other statistic gives, when its verdict differs; empty otherwise.
    otherwise: str = ""

    @property
    def passed(self) -> bool:
        return self.verdict.passed

    def to_json(self) -> dict[str, object]:
        return {
            "goal": self.goal,
            "statistic": self.statistic,
            "measured": self.measured,
            "verdict": self.verdict.value,
            "otherwise": self.otherwise,
        }


def judge(
    goal: str,
    measure: Measure,
    passes: Callable[[float], bool],
    describe: Callable[[float], str],
    *,
    statistic: Statistic = Statistic.MEDIAN,
    runs: int,
    why_missing: str = "",
    label: str | None = None,
) -> Goal:
    """Judge `goal` on `measure(statistic)`; `runs` is how many runs the figure summarises.

    `why_missing` explains a figure that could not be measured (which run failed); `label`
    names a statistic that is neither median nor best (the peak memory of all runs).
    """
    value = measure(statistic)
    label = label or statistic.describe(runs)
    if value is None:
        reason = why_missing or "no successful measurement"
        return Goal(goal, label, f"not measured: {reason}", Verdict.NOT_MEASURED)
    verdict = Verdict.PASS if passes(value) else Verdict.FAIL
    otherwise = ""
    if runs > 1:
        other = measure(statistic.other)
        if other is not None and passes(other) != verdict.passed:
            would = "pass" if passes(other) else "fail"
            otherwise = f"{statistic.other.describe(runs)}: {describe(other)}, would {would}"
    return Goal(goal, label, describe(value), verdict, otherwise)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """`numerator / denominator`, None when either is missing or the denominator is 0."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator
