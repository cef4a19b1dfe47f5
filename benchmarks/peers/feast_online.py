"""Feast's online lookups over the online benchmark's facts (peer side, in `.venv-feast`).

    feast_online.py FACTS_PARQUET ENTITY TIMESTAMP LOOKUPS WARM_UP COLUMN [COLUMN ...]

A feature view of the columns on Feast's SQLite online store, filled with each entity's
latest facts (`write_to_online_store`, what Feast's materialization writes), then one
`get_online_features(...).to_dict()` per single entity, timed one by one after a warm-up.
Prints `{"p50_ms": ..., "p99_ms": ...}`. Feast applies no encoders: its lookups return raw
values, Shipyard's are measured with the fitted encoders applied.
"""

import json
import sys
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from feast_repo import events_store  # this folder: the peers run as scripts


def main(facts: Path, entity: str, timestamp: str, lookups: int, warm_up: int, columns):
    store = events_store(
        facts.parent / "feast-online-repo",
        "bench_online",
        facts,
        entity,
        timestamp,
        columns,
        ttl=timedelta(days=3650),
        online=True,
    )
    frame = pd.read_parquet(facts, columns=[entity, timestamp, *columns])
    latest = frame.sort_values([entity, timestamp]).groupby(entity).tail(1)
    store.write_to_online_store("events", latest.reset_index(drop=True))
    ids = np.random.default_rng(2).integers(0, latest[entity].max() + 1, warm_up + lookups)
    features = [f"events:{column}" for column in columns]
    took = []
    for member_id in ids.tolist():
        started = time.perf_counter()
        store.get_online_features(features=features, entity_rows=[{entity: member_id}]).to_dict()
        took.append(time.perf_counter() - started)
    measured = np.array(took[warm_up:]) * 1000
    print(
        json.dumps(
            {
                "p50_ms": float(np.percentile(measured, 50)),
                "p99_ms": float(np.percentile(measured, 99)),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main(
        Path(sys.argv[1]).resolve(),
        sys.argv[2],
        sys.argv[3],
        int(sys.argv[4]),
        int(sys.argv[5]),
        sys.argv[6:],
    )
