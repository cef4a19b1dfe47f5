"""Experiments: how fast units are assigned to cells, what routing a request through an
experiment costs in the scoring server beside plain scoring, and how fast an analysis of 10
million exposures and 10 million outcomes runs (DuckDB over the fact store).

Each in-process case runs `experiments_work.py` in a fresh sandbox, which writes its own
figures (the assignment rate of its best pass; the seconds of the analysis alone, without
ingesting the facts; the cost of logging one exposure) to a JSON file read back here. The
routing case is `experiments_routing.py`: one server, wrk, the two routes alternating.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from benchmarks import experiments_routing
from benchmarks.experiments_routing import CONCURRENCY, KINDS
from benchmarks.goals import Figure, Statistic, judge, ratio
from benchmarks.harness import (
    BENCH_DIR,
    Measurement,
    Options,
    Sandbox,
    failed_runs,
    leftovers,
    python,
)
from benchmarks.load_figures import LoadFigures, failed_loads
from benchmarks.report import BenchmarkResult, Row, format_value
from benchmarks.wrk import LoadGeneratorMissing, ensure_wrk

NAME = "experiments"
TITLE = (
    "Experiments: assignment rate, routing through the server, and analysis of 10M "
    "exposures and 10M outcomes"
)
WORK = BENCH_DIR / "experiments_work.py"
UNITS = 1_000_000
ROWS = 10_000_000
GOAL_RATE = 1_000_000
GOAL_ANALYSIS_SECONDS = 10.0
GOAL_P99_MS = 1.0
GOAL_THROUGHPUT = 0.9
TIMEOUT = 1_800.0


def _case(
    work: str, size: list[str], options: Options
) -> tuple[Measurement, dict[str, float] | None]:
    """Run one case in a new sandbox: its measurement, and its figures (None if it failed)."""
    with Sandbox.create(f"{NAME}-{work}", options.keep) as box:
        script = box.copy_in(WORK)
        out = box.root / "figures.json"
        argv = [python(), script.name, work, *size, "--out", str(out)]
        measured = box.run(f"Shipyard: {work} {' '.join(size)}", argv, box.shipyard_env(), TIMEOUT)
        if not measured.ok or not out.exists():
            return measured, None
        figures: dict[str, float] = json.loads(out.read_text())
        return measured, figures


def run(options: Options) -> BenchmarkResult:
    result = BenchmarkResult(NAME, TITLE)
    cases: dict[str, Callable[[], tuple[Measurement, dict[str, float] | None]]] = {
        "assign": lambda: _case("assign", ["--units", str(UNITS)], options),
        "analyze": lambda: _case("analyze", ["--rows", str(ROWS)], options),
        "log-cost": lambda: _case("log-cost", [], options),
    }
    times = {"assign": options.repeats(3), "analyze": options.repeats(3), "log-cost": 1}
    done = {name: [case() for _ in range(times[name])] for name, case in cases.items()}
    measurements = [m for runs in done.values() for m, _ in runs]
    result.runs = [m.to_json() for m in measurements]
    result.runs += [{"case": name, **(f or {})} for name, runs in done.items() for _, f in runs]
    result.failed += failed_runs(measurements)
    result.notes += leftovers(measurements)

    def figure(case: str, key: str, lower_is_better: bool = True) -> Figure:
        values = [None if f is None else f[key] for _, f in done[case]]
        return Figure.of(values, lower_is_better)

    rate = figure("assign", "assignments_per_second", lower_is_better=False)
    seconds = figure("analyze", "analysis_seconds")
    restated = figure("analyze", "analysis_restated_seconds")
    log_p99 = figure("log-cost", "log_p99_ms").value(Statistic.MEDIAN)
    result.rows += [
        Row("assignments per second, one process (hashing only)", "/s", rate.value(Statistic.BEST)),
        Row(
            f"analysis of {ROWS:,} exposures and {ROWS:,} outcomes",
            "s",
            seconds.value(Statistic.MEDIAN),
            note="two metrics and a CUPED covariate",
        ),
        Row(
            "the same, after 10,000 outcomes were restated",
            "s",
            restated.value(Statistic.MEDIAN),
            note="resolves restatements over every outcome",
        ),
        Row(
            "ExposureLog.log, p99 in-process",
            "µs",
            None if log_p99 is None else log_p99 * 1000,
            note="the enqueue a scored experiment request pays",
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
        judge(
            f"analysis under {GOAL_ANALYSIS_SECONDS:g} s with restatements to resolve",
            restated.value,
            lambda value: value < GOAL_ANALYSIS_SECONDS,
            lambda value: format_value(value, "s"),
            runs=len(restated),
            why_missing=why,
        ),
    ]
    _routing(result, options)
    return result


def _routing(result: BenchmarkResult, options: Options) -> None:
    """Routing through the server: the rows, goals and runs of `experiments_routing`."""
    try:
        ensure_wrk()
    except LoadGeneratorMissing as exc:
        result.failed.append(str(exc))
        return
    routing = experiments_routing.measure(options)
    result.runs += [
        {"route": kind, **load.to_json()} for kind in KINDS for load in routing.runs[kind]
    ]
    result.runs.append({"exposures": routing.exposures, "experiment_requests": routing.requests})
    failed = failed_loads(routing.runs)
    if routing.disagreement:
        failed.append(routing.disagreement)
    result.failed += failed

    figures = LoadFigures(routing.runs, measured=not failed)
    rps = {k: figures.throughput(k) for k in KINDS}
    p99 = {k: figures.latency(k, "p99") for k in KINDS}
    result.rows += [
        *figures.rows(
            "experiment", "model", "model route", CONCURRENCY, note="experiment vs model route: "
        ),
        Row(
            "exposures written after a clean shutdown",
            "",
            float(routing.exposures),
            float(routing.requests),
            "experiment replies",
            "wrk does not count the requests in flight when a run stops",
        ),
    ]
    runs = len(routing.runs["experiment"])
    why = "; ".join(failed)

    def p99_added(statistic: Statistic) -> float | None:
        ours, plain = p99["experiment"].value(statistic), p99["model"].value(statistic)
        return None if ours is None or plain is None else ours - plain

    in_flight = CONCURRENCY * (2 * runs + 1)  # every experiment wrk run, warm-up included
    result.goals += [
        judge(
            f"experiment route p99 within {GOAL_P99_MS:g} ms of the model route's",
            p99_added,
            lambda added: added <= GOAL_P99_MS,
            lambda added: f"{added:+.2f} ms",
            runs=runs,
            why_missing=why,
        ),
        judge(
            f"experiment route throughput within {1 - GOAL_THROUGHPUT:.0%} of the model route's",
            lambda s: ratio(rps["experiment"].value(s), rps["model"].value(s)),
            lambda factor: factor >= GOAL_THROUGHPUT,
            lambda factor: f"{factor:.1%} of the model route's",
            runs=runs,
            why_missing=why,
        ),
        judge(
            "one exposure per scored experiment request (clean shutdown)",
            lambda s: float(routing.exposures - routing.requests),
            lambda extra: 0 <= extra <= in_flight,
            lambda extra: f"{routing.exposures:,} exposures for {routing.requests:,} replies",
            runs=1,
        ),
    ]
    result.notes += [
        f"Routing: one `shipyard serve bench-model@production --experiments` (defaults: "
        "exposures flushed every second), wrk with one thread and "
        f"{CONCURRENCY} keep-alive connections, {experiments_routing.SECONDS:.0f} s per run "
        "after a warm-up, one record per request (the serving benchmark's model and rows), the "
        "experiment route and the model route alternating run by run. The experiment's two "
        "cells both serve the version behind the alias, so both routes score the same model. "
        "Figures are medians of the runs; wrk and the server share the machine's 2 cores, so "
        "a p99 moves by a millisecond or more from run to run.",
    ]
