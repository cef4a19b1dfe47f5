"""The work the experiments benchmark measures, run in a sandbox by `bench_experiments`:

    python experiments_work.py assign --units 1000000 --out result.json
    python experiments_work.py analyze --rows 10000000 --out result.json

`assign` times `Allocation.assign_many` over string unit ids (hashing only, one process) and
writes the best rate of three passes. `analyze` registers a model, starts an experiment,
ingests ROWS exposures and ROWS outcomes (one per unit, in chunks), then times one
`experiments.analyze` with two metrics and a covariate; only the analysis is timed.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

CHUNK = 2_000_000


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
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for first in range(0, rows, CHUNK):
        ids = np.arange(first, min(rows, first + CHUNK))
        units = np.char.add("member-", ids.astype(str))
        cells = np.where(ids % 2 == 0, "control", "treatment")
        seconds = pd.to_timedelta(ids % 86_400, unit="s")
        facts.ingest(
            EXPOSURES,
            pd.DataFrame(
                {
                    "unit": units,
                    "ts": pd.Timestamp(start) + seconds,
                    "experiment": "bench",
                    "cell": cells,
                    "model": "bench",
                    "version": 1,
                }
            ),
        )
        pre = rng.gamma(4.0, 10.0, len(ids))
        facts.ingest(
            "outcomes",
            pd.DataFrame(
                {
                    "unit": units,
                    "ts": pd.Timestamp(start + timedelta(days=1)) + seconds,
                    "minutes": pre + rng.normal(0, 5, len(ids)),
                    "pre": pre,
                }
            ),
        )
    started = time.perf_counter()
    result = experiments.analyze("bench", ["minutes:mean", "minutes:count"], covariate="pre")
    elapsed = time.perf_counter() - started
    if int(result.frame["units"].iloc[0]) + int(result.frame["units"].iloc[1]) != rows:
        raise SystemExit(f"the analysis saw {result.frame['units'].tolist()} units, not {rows}")
    return {"analysis_seconds": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("work", choices=["assign", "analyze"])
    parser.add_argument("--units", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    figures = assign(args.units) if args.work == "assign" else analyze(args.rows)
    args.out.write_text(json.dumps(figures))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
