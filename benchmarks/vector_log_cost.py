"""What served-vector logging adds to one prediction, measured in-process: `VectorLog.offer`
on the benchmark model's one-row frames, at the default 1% and at 100% (every row kept:
the cost of a kept row). Prints JSON: per rate, p50, p99 and max in milliseconds.

    python vector_log_cost.py OUT_DIR     # after entity_serving_setup.py
"""

import json
import sys
import time
from pathlib import Path

import pandas as pd

from shipyard import models
from shipyard.serving.vector_log import VectorLog

#: Calls timed at each rate (at 100% each call also leaves a row for the log's writer).
CALLS = {0.01: 20_000, 1.0: 5_000}
WARM_UP = 1_000


def percentiles(rate: float, frames: list[pd.DataFrame]) -> dict[str, float]:
    model = models.load("bench-churn@production")
    log = VectorLog(rate)
    log.prepare(model)
    timings = []
    for index in range(WARM_UP + CALLS[rate]):
        frame = frames[index % len(frames)]
        started = time.perf_counter()
        log.offer(model, frame)
        timings.append(time.perf_counter() - started)
    log.close()
    measured = sorted(timings[WARM_UP:])
    return {
        "p50": measured[len(measured) // 2] * 1000,
        "p99": measured[int(len(measured) * 0.99)] * 1000,
        "max": measured[-1] * 1000,
    }


def main(out: Path) -> None:
    rows = json.loads((out / "rows.json").read_text())
    frames = [pd.DataFrame([row["features"]]) for row in rows[:200]]
    print(json.dumps({str(rate): percentiles(rate, frames) for rate in CALLS}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
