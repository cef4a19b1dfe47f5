"""The work the experiments benchmark measures, run in a sandbox by `bench_experiments`:

    python experiments_work.py assign --units 1000000 --out result.json
    python experiments_work.py analyze --rows 10000000 --out result.json
    python experiments_work.py log-cost --calls 20000 --out result.json

`assign` times `Allocation.assign_many` over string unit ids (hashing only, one process) and
writes the best rate of three passes. `analyze` registers a model, starts an experiment,
ingests ROWS exposures and ROWS outcomes (one per unit, from Arrow, in chunks of CHUNK), then
times one `experiments.analyze` with two metrics and a covariate; then it ingests corrections
of RESTATED outcomes and times the analysis again, which now resolves restatements. Only the
analyses are timed. `log-cost` times `ExposureLog.log` in-process, as the server's
experiment route calls it once per scored request.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

CHUNK = 2_000_000
EXPOSURES_TABLE = "experiment_exposures"
#: Outcomes ingested again, corrected, before the second analysis.
RESTATED = 10_000
#: Microseconds since the epoch of the first exposure, and in a day.
START = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)
DAY = 86_400 * 1_000_000


def assign(units: int) -> dict[str, float]:
    from shipyard.experiments.allocation import Allocation

    allocation = Allocation("bench", {"control": 0.5, "a": 0.25, "b": 0.25})
    ids = [f"member-{i}" for i in range(units)]
    best = min(_timed(lambda: allocation.assign_many(ids)) for _ in range(3))
    return {"assignments_per_second": units / best}


def _timed(work: object) -> float:
    started = time.perf_counter()
    work()  # type: ignore[operator]
    return time.perf_counter() - started


def analyze(rows: int) -> dict[str, float]:
    from sklearn.dummy import DummyRegressor

    from shipyard import experiments, facts, models
    from shipyard.experiments.exposures import EXPOSURES, declare_exposures

    frame = pd.DataFrame({"x": [0.0, 1.0]})
    models.register("bench", DummyRegressor().fit(frame, [0.0, 1.0]))
    experiments.create("bench", {"control": "bench/1", "treatment": "bench/1"})
    experiments.start("bench")
    declare_exposures(facts.store(create=True))
    facts.table(
        "outcomes",
        entity="unit",
        event_time="ts",
        schema={"unit": "str", "ts": "timestamp", "minutes": "float", "pre": "float"},
    )
    rng = np.random.default_rng(1)
    for first in range(0, rows, CHUNK):
        ids = np.arange(first, min(rows, first + CHUNK))
        exposures, outcomes = _facts(ids, rng)
        facts.ingest(EXPOSURES, exposures)
        facts.ingest("outcomes", outcomes)
    figures = {"analysis_seconds": _timed_analysis(rows)}
    # Corrections of a few outcomes: now the files no longer prove that no fact restates
    # another, and the analysis resolves restatements over all 10M outcomes.
    corrected = rng.choice(rows, RESTATED, replace=False)
    facts.ingest("outcomes", _facts(np.sort(corrected), rng)[1])
    figures["analysis_restated_seconds"] = _timed_analysis(rows)
    return figures


def _facts(ids: np.ndarray, rng: np.random.Generator) -> tuple[pa.Table, pa.Table]:
    """Exposures and outcomes of units `ids`: unit i is exposed i seconds after START (so each
    ingest covers its own span of time, as a daily job's would) and has one outcome a day
    later, correlated with its pre-period covariate."""
    units = pa.array(np.char.add("member-", ids.astype(str)))
    times = pa.array(START + ids * 1_000_000, type=pa.timestamp("us", tz="UTC"))
    exposures = pa.table(
        {
            "unit": units,
            "ts": times,
            "experiment": pa.repeat(pa.scalar("bench"), len(ids)),
            "cell": pa.array(np.where(ids % 2 == 0, "control", "treatment")),
            "model": pa.repeat(pa.scalar("bench"), len(ids)),
            "version": pa.repeat(pa.scalar(1), len(ids)),
        }
    )
    pre = rng.gamma(4.0, 10.0, len(ids))
    outcomes = pa.table(
        {
            "unit": units,
            "ts": pa.array(START + DAY + ids * 1_000_000, type=pa.timestamp("us", tz="UTC")),
            "minutes": pre + rng.normal(0, 5, len(ids)),
            "pre": pre,
        }
    )
    return exposures, outcomes


def _timed_analysis(rows: int) -> float:
    """Seconds of one analysis with two metrics and a CUPED covariate; checks it saw every
    unit."""
    from shipyard import experiments

    started = time.perf_counter()
    result = experiments.analyze("bench", ["minutes:mean", "minutes:count"], covariate="pre")
    elapsed = time.perf_counter() - started
    if int(result.frame["units"].iloc[0]) + int(result.frame["units"].iloc[1]) != rows:
        raise SystemExit(f"the analysis saw {result.frame['units'].tolist()} units, not {rows}")
    return elapsed


def log_cost(calls: int) -> dict[str, float]:
    """p50, p99 and max milliseconds of `ExposureLog.log` (what a scored experiment request
    adds), with the server's settings: the log's writer thread writes every second
    meanwhile."""
    from shipyard.experiments.exposures import ExposureLog
    from shipyard.features.facts import store
    from shipyard.serving.experiments import ExperimentRouting

    log = ExperimentRouting.from_config().exposures
    assert isinstance(log, ExposureLog)
    timings = []
    for index in range(calls):
        started = time.perf_counter()
        log.log(f"member-{index}", "bench", "control", "bench", 1)
        timings.append(time.perf_counter() - started)
        if index % 100 == 0:
            time.sleep(0.005)  # about the rate of the routing load, so that flushes overlap
    log.close()
    written = len(store().scan(EXPOSURES_TABLE).files)
    measured = sorted(timings[calls // 10 :])
    return {
        "log_p50_ms": measured[len(measured) // 2] * 1000,
        "log_p99_ms": measured[int(len(measured) * 0.99)] * 1000,
        "log_max_ms": measured[-1] * 1000,
        "files_written": written,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("work", choices=["assign", "analyze", "log-cost"])
    parser.add_argument("--units", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    works = {
        "assign": lambda: assign(args.units),
        "analyze": lambda: analyze(args.rows),
        "log-cost": lambda: log_cost(args.calls),
    }
    figures = works[args.work]()
    args.out.write_text(json.dumps(figures))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
