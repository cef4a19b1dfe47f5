"""Point-in-time training sets: Shipyard beside a hand-written DuckDB query and Feast.

1,000,000 facts (10,000 entities x 100 events over a year, three numeric columns) and 200,000
labels (`features_data.py`), in one sandbox:

- the whole feature list (`last` of each column, the count and each column's mean over 30
  days): `FeatureSet.training_frame` against the hand-written DuckDB query on the same
  Parquet files (the store's), which has no restatements, `as_of` or fixed summation order
  to care about;
- what a Feast feature view can express (the `last` values, with a 30-day TTL): Shipyard's
  `last`-only feature set against Feast's `get_historical_features` on its default local
  ("file") offline store, from `.venv-feast`, over the same facts;
- ingest (one DataFrame of all facts into a fresh store) and `facts.log` (one fact per call
  from one process, then a flush).

Every command runs in a process of its own through `measure.py` (peak memory); its time is
what the command itself reports for the work alone (`features_job.py`, `peers/feast_frame.py`).
The answers are checked: Shipyard's against the hand query's on every row, and against
Feast's on every row Feast returns. `bench_features_scale.py` runs the same at 10,000,000.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks import features_data
from benchmarks.features_data import COLUMNS, ENTITY, EVENT_TIME, Scale
from benchmarks.goals import Figure, Statistic, judge, ratio
from benchmarks.harness import (
    BENCH_DIR,
    PEERS_DIR,
    SOURCE_DIR,
    Case,
    Measurement,
    Options,
    Sandbox,
    failed_runs,
    interleave,
    leftovers,
    python,
)
from benchmarks.report import BenchmarkResult, Row, format_ratio, format_value

NAME = "features"
TITLE = "Point-in-time training set: 1M facts x 200k labels; ingest; facts.log"
SCALE = Scale(entities=10_000, events=100, labels=200_000)
FEAST_VENV = BENCH_DIR.parent / ".venv-feast"
TIMEOUT = 900.0
MEMORY_INTERVAL = 0.1
LOGGED = 200_000
FEAST_GOAL = 50.0
DUCKDB_GOAL = 1.5
MEMORY_GOAL_GIB = 1.0
INGEST_GOAL_SECONDS = 2.0
LOG_GOAL_RATE = 20_000.0
# Means added in different orders may differ in their last bits: the hand query's are not
# ordered, Shipyard's are.
_RELATIVE = 1e-12


@dataclass
class Timed:
    """The runs of one case and the seconds each reported for its work alone."""

    runs: list[Measurement]
    outputs: list[Path]

    def figure(self, key: str = "seconds", lower_is_better: bool = True) -> Figure:
        return Figure.of([reported(m, key) for m in self.runs], lower_is_better)

    def peak_gib(self) -> float | None:
        values = [
            max(v for v in (m.max_rss_largest_process, m.peak_tree_pss or 0))
            for m in self.runs
            if m.ok
        ]
        return max(values) / 2**30 if values else None


def reported(measured: Measurement, key: str) -> float | None:
    """The figure the command printed as its last line of JSON; None for a failed run."""
    if not measured.ok:
        return None
    for line in reversed(measured.output_tail.splitlines()):
        if line.startswith("{"):
            return float(json.loads(line)[key])
    return None


def job_env(box: Sandbox) -> dict[str, str]:
    env = box.shipyard_env()
    # `features_job` imports `benchmarks.features_data`: the checkout's root too.
    env["PYTHONPATH"] = f"{SOURCE_DIR}{os.pathsep}{BENCH_DIR.parent}"
    return env


def job(*args: str) -> list[str]:
    return [python(), "-m", "benchmarks.features_job", *args]


class Frames:
    """The training-frame cases of one sandbox whose store holds the generated facts."""

    def __init__(self, box: Sandbox, labels: Path) -> None:
        self.box = box
        self.labels = labels
        self.out = box.root / "out"
        self.out.mkdir(exist_ok=True)
        self.cases: dict[str, Timed] = {}

    def case(self, label: str, argv_for: Sequence[str], env: dict[str, str]) -> Case:
        timed = self.cases.setdefault(label, Timed([], []))

        def once() -> Measurement:
            target = self.out / f"{label.replace(' ', '-')}-{len(timed.runs)}.parquet"
            argv = [a.replace("{out}", str(target)) for a in argv_for]
            measured = self.box.run(label, argv, env, TIMEOUT, memory_interval=MEMORY_INTERVAL)
            timed.runs.append(measured)
            timed.outputs.append(target)
            return measured

        return once


def prepare(box: Sandbox, scale: Scale) -> tuple[Path, Path, Measurement]:
    """Generate the facts and labels, and store the facts (one ingest per block of
    10,000 entities): the folder of fact files, the labels file and the store's run."""
    data = box.root / "data"
    facts = data / "facts"
    features_data.write_facts(facts, scale)
    labels = features_data.write_labels(data / "labels.parquet", scale)
    stored = box.run("Shipyard store (setup)", job("store", str(facts)), job_env(box), TIMEOUT)
    if not stored.ok:
        raise RuntimeError(stored.failure())
    return facts, labels, stored


def run(options: Options) -> BenchmarkResult:
    result = BenchmarkResult(NAME, TITLE)
    feast_python = FEAST_VENV / "bin" / "python"
    if not feast_python.exists():
        result.error = f"Feast is not installed in {FEAST_VENV}; run `make bench`"
        return result
    with Sandbox.create(NAME, options.keep) as box:
        facts, labels, _ = prepare(box, SCALE)
        frames = Frames(box, labels)
        env = job_env(box)
        peer = [str(feast_python), str(PEERS_DIR / "feast_frame.py"), str(facts), str(labels)]
        peer += ["{out}", ENTITY, EVENT_TIME, *COLUMNS]
        cases = {
            "Shipyard full": frames.case(
                "Shipyard full", job("frame", "full", str(labels), "{out}"), env
            ),
            "DuckDB full": frames.case(
                "DuckDB full", job("duckdb", "full", str(labels), "{out}"), env
            ),
            "Shipyard last": frames.case(
                "Shipyard last", job("frame", "last", str(labels), "{out}"), env
            ),
            "Feast last": frames.case("Feast last", peer, box.base_env()),
        }
        # Feast takes tens of seconds a run: one run of it is enough.
        interleave(cases, options.repeats(3), slow_after=10)
        checks = compare(frames, facts, labels)
    ingest, logged = _writes(options)
    _judge(result, frames.cases, ingest, logged, checks)
    every = [m for timed in (*frames.cases.values(), ingest, logged) for m in timed.runs]
    result.runs = [m.to_json() for m in every]
    result.failed += failed_runs(every)
    result.notes += leftovers(every)
    result.notes += checks.notes()
    return result


def _writes(options: Options) -> tuple[Timed, Timed]:
    """Ingest and log, each run in a fresh sandbox (an empty store)."""
    ingest, logged = Timed([], []), Timed([], [])
    with Sandbox.create(f"{NAME}-data", options.keep) as data_box:
        facts = data_box.root / "facts"
        features_data.write_facts(facts, SCALE)
        for _ in range(options.repeats(3)):
            with Sandbox.create(f"{NAME}-ingest", options.keep) as box:
                ingest.runs.append(
                    box.run("Shipyard ingest", job("ingest", str(facts)), job_env(box), TIMEOUT)
                )
            with Sandbox.create(f"{NAME}-log", options.keep) as box:
                logged.runs.append(
                    box.run("Shipyard facts.log", job("log", str(LOGGED)), job_env(box), TIMEOUT)
                )
    return ingest, logged


@dataclass
class Checks:
    """What comparing the answers found; `failures` are wrong answers."""

    label_rows: int = 0
    shipyard_rows: int = 0
    feast_rows: int = 0
    feast_dropped_before_first_fact: int = 0
    feast_dropped_outside_ttl: int = 0
    feast_dropped_other: int = 0
    fact_at_label_time: int = 0
    feast_differs_at_label_time: int = 0
    failures: tuple[str, ...] = ()

    def notes(self) -> list[str]:
        return [
            f"Answers: Shipyard kept all {self.shipyard_rows:,} of {self.label_rows:,} label "
            f"rows; Feast returned {self.feast_rows:,} (dropped "
            f"{self.feast_dropped_before_first_fact:,} labels earlier than their entity's "
            f"first fact, {self.feast_dropped_outside_ttl:,} whose entity had no fact in the "
            f"30 days before, and {self.feast_dropped_other:,} others; Shipyard gives those "
            "rows nulls and a count of 0). Values are identical on "
            f"every row Feast returns except {self.feast_differs_at_label_time:,} row(s) with "
            f"a fact stamped exactly at the label's time ({self.fact_at_label_time:,} such "
            "label rows): Feast includes that fact, Shipyard does not. Shipyard's whole "
            "feature list equals the hand-written DuckDB query's on every row (means to "
            f"{_RELATIVE:g} relative, as they add up in another order)."
        ]


def compare(frames: Frames, facts: Path, labels: Path) -> Checks:
    """Shipyard's answers against the hand query's and Feast's (first successful run each)."""
    import duckdb

    def first(label: str) -> str | None:
        timed = frames.cases[label]
        found = [str(p) for m, p in zip(timed.runs, timed.outputs, strict=True) if m.ok]
        return found[0] if found else None

    paths = {label: first(label) for label in frames.cases}
    missing = [label for label, path in paths.items() if path is None]
    if missing:
        return Checks(failures=(f"no answer to check from {', '.join(missing)}",))
    sql = duckdb.connect()
    sql.execute("SET TimeZone = 'UTC'")
    sql.execute(
        "CREATE VIEW labels AS SELECT file_row_number AS label_row, * "
        f"FROM read_parquet('{labels}', file_row_number = true)"
    )
    sql.execute(f"CREATE VIEW facts AS SELECT * FROM read_parquet('{facts}/*.parquet')")
    for label, path in paths.items():
        sql.execute(f"CREATE VIEW \"{label}\" AS SELECT * FROM read_parquet('{path}')")

    def one(query: str) -> int:
        return int(sql.execute(query).fetchone()[0])  # type: ignore[index]

    failures = []
    full_columns = [f"last_{c}" for c in COLUMNS] + ["count_30d"]
    means = [f"mean_{c}" for c in COLUMNS]
    differ = " OR ".join(
        [f"s.{c} IS DISTINCT FROM d.{c}" for c in full_columns]
        + [
            f"(s.{c} IS NULL) <> (d.{c} IS NULL) OR abs(s.{c} - d.{c}) > {_RELATIVE} * abs(d.{c})"
            for c in means
        ]
    )
    versus_duckdb = one(
        f'SELECT count(*) FROM "Shipyard full" s FULL JOIN "DuckDB full" d USING (label_row) '
        f"WHERE {differ}"
    )
    if versus_duckdb:
        failures.append(f"Shipyard and the hand DuckDB query differ on {versus_duckdb} rows")
    at_label_time = (
        "SELECT DISTINCT l.label_row FROM labels l JOIN facts f "
        f"ON l.{ENTITY} = f.{ENTITY} AND l.{EVENT_TIME} = f.{EVENT_TIME}"
    )
    feast_differ = " OR ".join(f"s.last_{c} IS DISTINCT FROM f.{c}" for c in COLUMNS)
    differing = 'SELECT label_row FROM "Shipyard last" s JOIN "Feast last" f USING (label_row) '
    differing += f"WHERE {feast_differ}"
    unexplained = one(
        f"SELECT count(*) FROM ({differing}) WHERE label_row NOT IN ({at_label_time})"
    )
    if unexplained:
        failures.append(f"Shipyard and Feast differ on {unexplained} rows Feast returns")
    first_fact = f"SELECT {ENTITY}, min({EVENT_TIME}) AS first FROM facts GROUP BY {ENTITY}"
    dropped = (
        'SELECT label_row FROM labels WHERE label_row NOT IN (SELECT label_row FROM "Feast last")'
    )
    before_first = one(
        f"SELECT count(*) FROM labels l LEFT JOIN ({first_fact}) f USING ({ENTITY}) "
        f"WHERE l.label_row IN ({dropped}) AND (f.first IS NULL OR l.{EVENT_TIME} < f.first)"
    )
    outside_ttl = one(
        f"SELECT count(*) FROM labels l JOIN ({first_fact}) f USING ({ENTITY}) "
        f"WHERE l.label_row IN ({dropped}) AND l.{EVENT_TIME} >= f.first AND NOT EXISTS ("
        f"SELECT 1 FROM facts x WHERE x.{ENTITY} = l.{ENTITY} AND x.{EVENT_TIME} <= l.{EVENT_TIME}"
        f" AND x.{EVENT_TIME} >= l.{EVENT_TIME} - INTERVAL 30 DAY)"
    )
    dropped_count = one(f"SELECT count(*) FROM ({dropped})")
    shipyard_rows = one('SELECT count(*) FROM "Shipyard full"')
    label_rows = one("SELECT count(*) FROM labels")
    if shipyard_rows != label_rows or one('SELECT count(*) FROM "Shipyard last"') != label_rows:
        failures.append(f"Shipyard returned {shipyard_rows} rows for {label_rows} labels")
    return Checks(
        label_rows=label_rows,
        shipyard_rows=shipyard_rows,
        feast_rows=one('SELECT count(*) FROM "Feast last"'),
        feast_dropped_before_first_fact=before_first,
        feast_dropped_outside_ttl=outside_ttl,
        feast_dropped_other=dropped_count - before_first - outside_ttl,
        fact_at_label_time=one(f"SELECT count(*) FROM ({at_label_time})"),
        feast_differs_at_label_time=one(f"SELECT count(*) FROM ({differing})") - unexplained,
        failures=tuple(failures),
    )


def _judge(
    result: BenchmarkResult, cases: dict[str, Timed], ingest: Timed, logged: Timed, checks: Checks
) -> None:
    median = Statistic.MEDIAN
    times = {label: timed.figure() for label, timed in cases.items()}
    ours_full, ours_last = times["Shipyard full"], times["Shipyard last"]
    duckdb_full, feast_last = times["DuckDB full"], times["Feast last"]
    memory = {label: timed.peak_gib() for label, timed in cases.items()}
    ingest_time = ingest.figure()
    rate = logged.figure("rate", lower_is_better=False)
    result.rows += [
        Row(
            "training frame, whole list",
            "s",
            ours_full.value(median),
            duckdb_full.value(median),
            "hand DuckDB",
        ),
        Row(
            "training frame, last only",
            "s",
            ours_last.value(median),
            feast_last.value(median),
            "Feast",
        ),
        Row(
            "peak memory, whole list",
            "GiB",
            memory["Shipyard full"],
            memory["DuckDB full"],
            "hand DuckDB",
        ),
        Row(
            "peak memory, last only", "GiB", memory["Shipyard last"], memory["Feast last"], "Feast"
        ),
        Row("ingest 1,000,000 facts (DataFrame)", "s", ingest_time.value(median)),
        Row(f"facts.log, {LOGGED:,} facts from one process", "facts/s", rate.value(median)),
    ]
    result.failed += list(checks.failures)
    peak = memory["Shipyard full"]
    result.goals += [
        judge(
            f"≥ {FEAST_GOAL:.0f}x faster than Feast (last values, 30-day TTL)",
            lambda s: ratio(feast_last.value(s), ours_last.value(s)),
            lambda speedup: speedup >= FEAST_GOAL,
            format_ratio,
            runs=len(ours_last),
        ),
        judge(
            f"within {DUCKDB_GOAL}x of the hand-written DuckDB query",
            lambda s: ratio(ours_full.value(s), duckdb_full.value(s)),
            lambda factor: factor <= DUCKDB_GOAL,
            lambda factor: f"{format_ratio(factor)} its time",
            runs=len(ours_full),
        ),
        judge(
            f"peak memory < {MEMORY_GOAL_GIB:.0f} GiB (whole list)",
            lambda _: peak if ours_full.complete else None,
            lambda gib: gib < MEMORY_GOAL_GIB,
            lambda gib: format_value(gib, "GiB"),
            runs=1,
            label=f"largest of {len(ours_full)} runs",
        ),
        judge(
            f"ingest 1,000,000 facts < {INGEST_GOAL_SECONDS:.0f} s",
            ingest_time.value,
            lambda seconds: seconds < INGEST_GOAL_SECONDS,
            lambda seconds: format_value(seconds, "s"),
            runs=len(ingest_time),
        ),
        judge(
            f"facts.log ≥ {LOG_GOAL_RATE:,.0f} facts/s",
            rate.value,
            lambda value: value >= LOG_GOAL_RATE,
            lambda value: f"{value:,.0f} facts/s",
            runs=len(rate),
        ),
        judge(
            "identical values on every row Feast returns; every label row kept",
            lambda _: None if checks.failures else float(checks.shipyard_rows),
            lambda rows: rows == checks.label_rows,
            lambda rows: f"{rows:,.0f} of {checks.label_rows:,} rows kept, values identical",
            runs=1,
            why_missing="; ".join(checks.failures),
        ),
    ]
