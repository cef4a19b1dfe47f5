"""Experiments: how fast units are assigned to cells, and how fast an analysis of 10 million
exposures and 10 million outcomes runs (DuckDB over the fact store).

Each case runs `experiments_work.py` in a fresh sandbox, which writes its own figure (the
assignment rate of its best pass; the seconds of the analysis alone, without ingesting the
facts) to a JSON file read back here. Routing through the server beside plain scoring is not
measured yet.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from benchmarks.goals import Figure, Statistic, judge
from benchmarks.harness import (
    BENCH_DIR,
    Measurement,
    Options,
    Sandbox,
    failed_runs,
    leftovers,
    python,
)
from benchmarks.report import BenchmarkResult, Row, format_value

NAME = "experiments"
TITLE = "Experiments: assignment rate and analysis of 10M exposures and 10M outcomes"
WORK = BENCH_DIR / "experiments_work.py"
UNITS = 1_000_000
ROWS = 10_000_000
GOAL_RATE = 1_000_000
GOAL_ANALYSIS_SECONDS = 10.0
TIMEOUT = 1_800.0


def _case(
    work: str, size: list[str], key: str, options: Options
) -> tuple[Measurement, float | None]:
    """Run one case in a new sandbox: its measurement, and its figure (None if it failed)."""
    with Sandbox.create(f"{NAME}-{work}", options.keep) as box:
        script = box.copy_in(WORK)
        out = box.root / "figures.json"
        argv = [python(), script.name, work, *size, "--out", str(out)]
        measured = box.run(f"Shipyard: {work} {' '.join(size)}", argv, box.shipyard_env(), TIMEOUT)
        if not measured.ok or not out.exists():
            return measured, None
        return measured, float(json.loads(out.read_text())[key])


def run(options: Options) -> BenchmarkResult:
    result = BenchmarkResult(NAME, TITLE)
    cases: dict[str, Callable[[], tuple[Measurement, float | None]]] = {
        "assign": lambda: _case(
            "assign", ["--units", str(UNITS)], "assignments_per_second", options
        ),
        "analyze": lambda: _case("analyze", ["--rows", str(ROWS)], "analysis_seconds", options),
    }
    times = options.repeats(3)
    done = {name: [case() for _ in range(times)] for name, case in cases.items()}
    measurements = [m for runs in done.values() for m, _ in runs]
    result.runs = [m.to_json() for m in measurements]
    result.failed += failed_runs(measurements)
    result.notes += leftovers(measurements)

    rate = Figure.of([figure for _, figure in done["assign"]], lower_is_better=False)
    seconds = Figure.of([figure for _, figure in done["analyze"]])
    result.rows += [
        Row("assignments per second, one process (hashing only)", "/s", rate.value(Statistic.BEST)),
        Row(
            f"analysis of {ROWS:,} exposures and {ROWS:,} outcomes",
            "s",
            seconds.value(Statistic.MEDIAN),
            note="two metrics and a CUPED covariate",
        ),
    ]
    why = "; ".join(result.failed)
    result.goals += [
        judge(
            f"at least {GOAL_RATE:,} assignments per second",
            rate.value,
            lambda value: value >= GOAL_RATE,
            lambda value: f"{value:,.0f}/s",
            statistic=Statistic.BEST,
            runs=len(rate),
            why_missing=why,
        ),
        judge(
            f"analysis under {GOAL_ANALYSIS_SECONDS:g} s",
            seconds.value,
            lambda value: value < GOAL_ANALYSIS_SECONDS,
            lambda value: format_value(value, "s"),
            runs=len(seconds),
            why_missing=why,
        ),
    ]
    return result
