"""The training-set benchmark at 10,000,000 facts: time and peak memory as the facts grow.

100,000 entities x 100 events (ingested as ten batches of 10,000 entities) and 2,000,000
labels: ten times `bench_features`' data. Shipyard's whole feature list beside the same
hand-written DuckDB query, one run each (Feast is left out: at a million facts it already
takes tens of seconds and three times the memory). Left alone, DuckDB uses the memory the
machine has; the goal is that it need not: with DuckDB capped below the size of the fact
table decoded into memory (every fact: entity, time, three doubles, recorded time: 48
bytes), the frame still builds, spilling to disk, and the whole process stays under 1 GiB,
the 2,000,000-row frame it returns included.
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
MEMORY_LIMIT = "400MB"
MEMORY_GOAL_GIB = 1.0


def run(options: Options) -> BenchmarkResult:
    result = BenchmarkResult(NAME, TITLE)
    with Sandbox.create(NAME, options.keep) as box:
        _, labels, stored = prepare(box, SCALE)
        frames = Frames(box, labels)
        env = job_env(box)
        capped = ["--memory-limit", MEMORY_LIMIT]
        argv = {
            "Shipyard full": job("frame", "full", str(labels), "{out}"),
            "DuckDB full": job("duckdb", "full", str(labels), "{out}"),
            "Shipyard capped": job("frame", "full", str(labels), "{out}", *capped),
        }
        cases = {label: frames.case(label, command, env) for label, command in argv.items()}
        interleave(cases, 1)
    median = Statistic.MEDIAN
    ours, hand = frames.cases["Shipyard full"], frames.cases["DuckDB full"]
    capped_run = frames.cases["Shipyard capped"]
    table_gib = SCALE.facts * _BYTES_PER_FACT / 2**30
    peak = capped_run.peak_gib()
    result.rows += [
        Row(
            "training frame, whole list",
            "s",
            ours.figure().value(median),
            hand.figure().value(median),
            "hand DuckDB",
        ),
        Row("peak memory, whole list", "GiB", ours.peak_gib(), hand.peak_gib(), "hand DuckDB"),
        Row(
            f"training frame, DuckDB capped at {MEMORY_LIMIT}",
            "s",
            capped_run.figure().value(median),
        ),
        Row(f"peak memory, DuckDB capped at {MEMORY_LIMIT}", "GiB", peak),
        Row("store 10,000,000 facts (ten ingests)", "s", reported(stored, "seconds")),
    ]
    result.notes.append(
        f"The fact table decoded into memory would take {format_value(table_gib, 'GiB')}; "
        f"the capped run gives DuckDB {MEMORY_LIMIT} (memory_limit=), less than that."
    )
    result.goals += [
        judge(
            f"peak memory < {MEMORY_GOAL_GIB:.0f} GiB with DuckDB capped below the table's size",
            lambda _: peak if capped_run.figure().complete else None,
            lambda gib: gib < MEMORY_GOAL_GIB,
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
