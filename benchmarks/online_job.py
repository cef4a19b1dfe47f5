"""Shipyard's side of the online benchmark, in one process (`python online_job.py DIR`);
prints one JSON line of figures.

10,000 members with 100 facts each (1,000,000 facts, three numeric columns, event times
over the last 90 days) go into a fact store under DIR. The feature set: `last` of each
column, `count` and `mean` over 30 days, with fitted encoders. Measured:

- materialization into SQLite: full, then incremental after 1% of the members got a new fact;
- single-entity lookups with the encoders applied (`EncodedVectors.lookup([id]).rows()`:
  read, decode, encode with NumPy, what a scoring server does per request, without its
  cache of encoded rows), from SQLite and from a Redis server started here
  on 127.0.0.1 (when `redis-server` is installed): every lookup's latency, after a warm-up;
- the facts and members are written to DIR/facts.parquet and DIR/members.parquet for the
  Feast side (`peers/feast_online.py`), which serves the same `last` values.

`python online_job.py DIR --scaled MEMBERS` measures the materializations alone with
MEMBERS members (`scaled`).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from shipyard.features import FeatureSet
    from shipyard.features.online import Materialization, OnlineStore

MEMBERS = 10_000
FACTS_PER_MEMBER = 100
LOOKUPS = 2_000
WARM_UP = 200
COLUMNS = ("a", "b", "c")


def main(folder: Path) -> None:
    _use_store(folder)
    from shipyard import facts
    from shipyard.features.online import OnlineVectors, open_online_store

    now = datetime.now(UTC)
    frame = _facts(now, MEMBERS)
    frame.to_parquet(folder / "facts.parquet", index=False)
    _declare()
    facts.ingest("events", frame)
    feature_set = _feature_set()
    labels = pd.DataFrame({"member_id": np.arange(1_000), "timestamp": [now] * 1_000})
    fitted = feature_set.fit(
        feature_set.training_frame(labels.astype({"timestamp": "datetime64[us, UTC]"}))
    )

    results: dict[str, object] = {}
    sqlite = open_online_store(f"sqlite:///{folder / 'online.db'}")
    full, incremental = _full_then_incremental(feature_set, sqlite, MEMBERS)
    results["materialize_full_s"] = full.seconds
    results["materialize_full_written"] = full.written
    results["materialize_incremental_s"] = incremental.seconds
    results["materialize_incremental_written"] = incremental.written
    results["sqlite"] = _lookups(OnlineVectors(sqlite, feature_set.version), fitted)
    results["sqlite_raw"] = _lookups(OnlineVectors(sqlite, feature_set.version), None)
    with _redis_server(folder) as redis_url:
        if redis_url is not None:
            redis = open_online_store(redis_url)
            results["materialize_full_redis_s"] = feature_set.materialize(redis, full=True).seconds
            results["redis"] = _lookups(OnlineVectors(redis, feature_set.version), fitted)
    print(json.dumps(results), flush=True)


def scaled(folder: Path, members: int) -> None:
    """Materialization alone, `members` x `FACTS_PER_MEMBER` facts: full, then incremental
    after 1% of the members got a new fact. How the ratio of the two falls once the table
    outgrows the fixed cost of a run (its queries, the frame's set-up, the store calls)."""
    folder.mkdir(parents=True, exist_ok=True)
    _use_store(folder)
    from shipyard import facts
    from shipyard.features.online import open_online_store

    _declare()
    frame = _facts(datetime.now(UTC), members)
    for start in range(0, len(frame), 2_000_000):  # ingest holds a batch in memory twice
        facts.ingest("events", frame.iloc[start : start + 2_000_000])
    del frame
    store = open_online_store(f"sqlite:///{folder / 'online.db'}")
    full, incremental = _full_then_incremental(_feature_set(), store, members)
    print(
        json.dumps(
            {
                "members": members,
                "materialize_full_s": full.seconds,
                "materialize_incremental_s": incremental.seconds,
                "materialize_incremental_written": incremental.written,
            }
        ),
        flush=True,
    )


def _use_store(folder: Path) -> None:
    os.environ["SHIPYARD_DATASTORE"] = str(folder / "store")
    os.environ["SHIPYARD_METADATA"] = f"sqlite:///{folder / 'store' / 'metadata.db'}"


def _declare() -> None:
    from shipyard import facts

    facts.table(
        "events",
        entity="member_id",
        event_time="ts",
        schema={"member_id": "int", "ts": "timestamp", **dict.fromkeys(COLUMNS, "float")},
    )


def _feature_set() -> FeatureSet:
    from shipyard.features import FeatureSet, count, fill_missing, last, log1p, mean, standardize

    return FeatureSet(
        "bench_online",
        entity="member_id",
        features=[
            *(last("events", column, name=f"last_{column}") for column in COLUMNS),
            count("events", window="30d", name="count_30d"),
            mean("events", "a", window="30d", name="mean_a_30d"),
        ],
        encoders={
            "mean_a_30d": [fill_missing("mean"), standardize()],
            "count_30d": log1p(),
            "last_b": standardize(),
        },
    )


def _full_then_incremental(
    feature_set: FeatureSet, store: OnlineStore, members: int
) -> tuple[Materialization, Materialization]:
    """A full materialization, then an incremental one after 1% of `members` got a fact."""
    from shipyard import facts

    full = feature_set.materialize(store, full=True)
    changed = np.random.default_rng(1).choice(members, members // 100, replace=False)
    facts.ingest(
        "events",
        pd.DataFrame(
            {
                "member_id": changed,
                "ts": [datetime.now(UTC) - timedelta(minutes=1)] * len(changed),
                **{column: np.ones(len(changed)) for column in COLUMNS},
            }
        ),
    )
    return full, feature_set.materialize(store)


@contextmanager
def _redis_server(folder: Path) -> Iterator[str | None]:
    """A Redis server on a free port of 127.0.0.1, persisting nothing; None without one."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).is_file():
        yield None
        return
    import redis

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    options = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    server = subprocess.Popen([binary, *options, "--dir", str(folder)], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def _facts(now: datetime, members: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = members * FACTS_PER_MEMBER
    ages = rng.uniform(0, 90 * 86_400, rows)
    return pd.DataFrame(
        {
            "member_id": np.repeat(np.arange(members), FACTS_PER_MEMBER),
            "ts": (pd.Timestamp(now) - pd.to_timedelta(np.round(ages, 6), unit="s")).floor("us"),
            **{column: rng.normal(size=rows) for column in COLUMNS},
        }
    ).drop_duplicates(["member_id", "ts"])


def _lookups(reader: object, fitted: object) -> dict[str, float]:
    """Latency of single-entity lookups (encoded when `fitted` is given), in milliseconds."""
    from shipyard.features.fitted import FittedFeatureSet
    from shipyard.features.online import OnlineVectors
    from shipyard.features.online.encoding import EncodedVectors

    assert isinstance(reader, OnlineVectors)
    ids = np.random.default_rng(2).integers(0, MEMBERS, WARM_UP + LOOKUPS).tolist()
    encoded = EncodedVectors(reader, fitted) if isinstance(fitted, FittedFeatureSet) else None
    took = []
    for member in ids:
        started = time.perf_counter()
        if encoded is not None:
            encoded.lookup([member]).rows()
        else:
            reader.lookup([member])
        took.append(time.perf_counter() - started)
    measured = np.array(took[WARM_UP:]) * 1000
    return {
        "p50_ms": float(np.percentile(measured, 50)),
        "p99_ms": float(np.percentile(measured, 99)),
    }


if __name__ == "__main__":
    if len(sys.argv) > 2:  # DIR --scaled MEMBERS
        scaled(Path(sys.argv[1]), int(sys.argv[3]))
    else:
        main(Path(sys.argv[1]))
