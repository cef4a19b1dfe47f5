"""Figures of `wrk` load runs, kind by kind, and the rows that set one kind beside another.

The serving benchmarks each run several kinds of load (Shipyard and MLflow, entities and
records, the experiment and the model route) a few times, and judge them alike: a run with
any wrong reply is a failed run, and a failed run (or a disagreement between the servers'
answers) leaves every figure unmeasured rather than measured on a wrong answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from benchmarks.goals import Figure, Statistic, ratio
from benchmarks.report import Row
from benchmarks.wrk import Load

__all__ = ["LoadFigures", "failed_loads"]


def failed_loads(runs: Mapping[str, Sequence[Load]]) -> list[str]:
    """One line per run with a wrong reply or a socket error, naming its kind and number."""
    return [
        f"{kind} run {index + 1}: {load.correct} correct replies, {load.wrong} other replies, "
        f"socket errors {load.socket_errors}"
        for kind, loads in runs.items()
        for index, load in enumerate(loads)
        if not load.ok
    ]


@dataclass(frozen=True)
class LoadFigures:
    """Each kind's figures over its runs; `measured` False makes every one unmeasured."""

    runs: Mapping[str, Sequence[Load]]
    measured: bool

    def figure(
        self, kind: str, value: Callable[[Load], float], lower_is_better: bool = True
    ) -> Figure:
        loads = self.runs[kind]
        return Figure.of(
            [value(load) if self.measured and load.ok else None for load in loads],
            lower_is_better,
        )

    def throughput(self, kind: str) -> Figure:
        return self.figure(kind, lambda load: load.throughput, lower_is_better=False)

    def latency(self, kind: str, percentile: str) -> Figure:
        return self.figure(kind, lambda load: load.latency_ms[percentile])

    def rows(
        self,
        ours: str,
        other: str,
        other_name: str,
        concurrency: int,
        percentiles: Sequence[str] = ("p50", "p99"),
        note: str = "",
    ) -> list[Row]:
        """Time per correct reply and latency percentiles of `ours` beside `other` (medians)."""
        median = Statistic.MEDIAN
        ours_rps, other_rps = (
            self.throughput(ours).value(median),
            self.throughput(other).value(median),
        )
        return [
            Row(
                f"time per correct reply at {concurrency} clients (1 / throughput)",
                "ms",
                ratio(1000, ours_rps),
                ratio(1000, other_rps),
                other_name,
                f"{note}{ours_rps or 0:.0f} vs {other_rps or 0:.0f} requests/s",
            ),
            *(
                Row(
                    f"{p} latency",
                    "ms",
                    self.latency(ours, p).value(median),
                    self.latency(other, p).value(median),
                    other_name,
                )
                for p in percentiles
            ),
        ]
