"""The training-set benchmark at 10,000,000 facts: time and peak memory as the facts grow.

100,000 entities x 100 events (ingested as ten batches of 10,000 entities) and 2,000,000
labels: ten times `bench_features`' data. Shipyard's whole feature list beside the same
hand-written DuckDB query, one run each (Feast is left out: at a million facts it already
takes tens of seconds and three times the memory). The goal is the memory one: the frame is
built without holding the fact table in memory, so its peak stays below the table's own size
decoded into Arrow (every fact: entity, time, three doubles, recorded time: 48 bytes).
"""

from __future__ import annotations

from benchmarks.bench_features import Frames, job, job_env, prepare, reported
from benchmarks.features_data import Scale
from benchmarks.goals import Statistic, judge, ratio
from benchmarks.harness import Options, Sandbox, failed_runs, interleave, leftovers
from benchmarks.report import BenchmarkResult, Row, format_ratio, format_value

NAME = "features_scale"
TITLE = "Point-in-time training set at 10M facts x 2M labels"
SCALE = Scale(entities=100_000, events=100, labels=2_000_000)
_BYTES_PER_FACT = 48


def run(options: Options) -> BenchmarkResult:
    result = BenchmarkResult(NAME, TITLE)
    with Sandbox.create(NAME, options.keep) as box:
        _, labels, stored = prepare(box, SCALE)
        frames = Frames(box, labels)
        env = job_env(box)
        cases = {
            label: frames.case(label, job(command, "full", str(labels), "{out}"), env)
            for label, command in (("Shipyard full", "frame"), ("DuckDB full", "duckdb"))
        }
        interleave(cases, 1)
    median = Statistic.MEDIAN
    ours, hand = frames.cases["Shipyard full"], frames.cases["DuckDB full"]
    table_gib = SCALE.facts * _BYTES_PER_FACT / 2**30
    peak = ours.peak_gib()
    result.rows += [
        Row(
            "training frame, whole list",
            "s",
            ours.figure().value(median),
            hand.figure().value(median),
            "hand DuckDB",
        ),
        Row("peak memory, whole list", "GiB", peak, hand.peak_gib(), "hand DuckDB"),
        Row("store 10,000,000 facts (ten ingests)", "s", reported(stored, "seconds")),
    ]
    result.goals += [
        judge(
            f"peak memory < the fact table in memory ({format_value(table_gib, 'GiB')})",
            lambda _: peak if ours.figure().complete else None,
            lambda gib: gib < table_gib,
            lambda gib: format_value(gib, "GiB"),
            runs=1,
            label="the one run",
        ),
        judge(
            "within 1.5x of the hand-written DuckDB query (for reference)",
            lambda s: ratio(ours.figure().value(s), hand.figure().value(s)),
            lambda factor: factor <= 1.5,
            lambda factor: f"{format_ratio(factor)} its time",
            runs=1,
        ),
    ]
    every = [m for timed in frames.cases.values() for m in timed.runs]
    result.runs = [m.to_json() for m in [stored, *every]]
    result.failed += failed_runs(every)
    result.notes += leftovers(every)
    return result
