"""The Shipyard side of the features benchmark, and the hand-written DuckDB query beside it.

Run in a sandbox (its `SHIPYARD_DATASTORE`), one command per process so that `measure.py`
sees each one's peak memory alone:

    features_job.py store FACTS_DIR               declare the table, ingest every block file
    features_job.py ingest FACTS_DIR              time facts.ingest of one DataFrame
    features_job.py log COUNT                     time facts.log of COUNT facts, then flush
    features_job.py frame full|last LABELS OUT    time FeatureSet.training_frame
    features_job.py duckdb full|last LABELS OUT   time the hand-written query on the same files
                                                  (both: --memory-limit 512MB caps DuckDB's)

Each prints one line `{"seconds": ...}` (plus what else it measured): the time of the work
alone, without interpreter start-up, reading its inputs, importing DuckDB or opening the
metadata store (done before the clock, as Feast's peer builds its store before its clock).
The frame commands write the frame, features only, with the label's position (`label_row`),
to OUT for the checks.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.features_data import COLUMNS, ENTITY, EVENT_TIME, SCHEMA, TABLE

if TYPE_CHECKING:
    from shipyard.features import FeatureSet

WINDOW = "30d"
LOG_START = datetime(2026, 1, 1, tzinfo=UTC)


def feature_set(kind: str) -> FeatureSet:
    """`last` of each column over 30 days; `full` adds the count and each column's mean."""
    from shipyard import features

    chosen = [features.last(TABLE, c, window=WINDOW, name=f"last_{c}") for c in COLUMNS]
    if kind == "full":
        chosen.append(features.count(TABLE, window=WINDOW, name="count_30d"))
        chosen += [features.mean(TABLE, c, window=WINDOW, name=f"mean_{c}") for c in COLUMNS]
    return features.FeatureSet(f"bench_{kind}", entity=ENTITY, features=chosen)


def store(folder: Path) -> dict[str, float]:
    from shipyard import facts

    facts.table(TABLE, entity=ENTITY, event_time=EVENT_TIME, schema=SCHEMA)
    started = time.perf_counter()
    for path in sorted(folder.glob("*.parquet")):
        facts.ingest(TABLE, pq.read_table(path))
    return {"seconds": time.perf_counter() - started}


def ingest(folder: Path) -> dict[str, float]:
    from shipyard import facts

    frame = pd.concat([pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))])
    facts.table(TABLE, entity=ENTITY, event_time=EVENT_TIME, schema=SCHEMA)
    started = time.perf_counter()
    facts.ingest(TABLE, frame)
    return {"seconds": time.perf_counter() - started, "rows": float(len(frame))}


def log(count: int) -> dict[str, float]:
    """Facts logged one call at a time, as a service would, then flushed: all are stored."""
    from shipyard import facts

    facts.table(TABLE, entity=ENTITY, event_time=EVENT_TIME, schema=SCHEMA)
    rows = [
        {
            ENTITY: n % 1000,
            EVENT_TIME: LOG_START + timedelta(microseconds=n),
            **{c: float(n % 97) for c in COLUMNS},
        }
        for n in range(count)
    ]
    started = time.perf_counter()
    for row in rows:
        facts.log(TABLE, row)
    facts.flush()
    seconds = time.perf_counter() - started
    stored = facts.describe(TABLE).rows
    if stored != count:
        raise SystemExit(f"{count} facts logged but {stored} stored")
    return {"seconds": seconds, "rate": count / seconds}


def _warm_up() -> None:
    """What a process pays once, before its first frame: imports and the metadata store."""
    import duckdb  # noqa: F401

    from shipyard import facts

    facts.describe(TABLE)


def frame(
    kind: str, labels_path: Path, out: Path, memory_limit: str | None = None
) -> dict[str, float]:
    labels = pd.read_parquet(labels_path)
    chosen = feature_set(kind)
    _warm_up()
    started = time.perf_counter()
    built = chosen.training_frame(labels, timestamp=EVENT_TIME, memory_limit=memory_limit)
    seconds = time.perf_counter() - started
    names = [f.name for f in chosen.features]
    result = built[names].reset_index(drop=True)
    result.insert(0, "label_row", range(len(result)))
    result.to_parquet(out, index=False)
    return {"seconds": seconds}


def hand_query(kind: str, files: list[str]) -> str:
    """What a careful engineer would write by hand for the same features: no restatements,
    no `as_of`, no fixed order of floating-point sums."""
    paths = ", ".join(f"'{path}'" for path in files)
    lasts = ", ".join(
        f"CASE WHEN f.{EVENT_TIME} >= l.{EVENT_TIME} - INTERVAL 30 DAY THEN f.{c} END AS last_{c}"
        for c in COLUMNS
    )
    query = f"""
        WITH facts AS (SELECT * FROM read_parquet([{paths}])),
        lasts AS (
            SELECT l.label_row, {lasts}
            FROM labels AS l ASOF LEFT JOIN facts AS f
              ON l.{ENTITY} = f.{ENTITY} AND f.{EVENT_TIME} < l.{EVENT_TIME})"""
    if kind == "last":
        return query + "\nSELECT * FROM lasts ORDER BY label_row"
    means = ", ".join(f"avg(f.{c}) AS mean_{c}" for c in COLUMNS)
    return (
        query
        + f""",
        windows AS (
            SELECT l.label_row, count(f.{EVENT_TIME}) AS count_30d, {means}
            FROM labels AS l LEFT JOIN facts AS f
              ON l.{ENTITY} = f.{ENTITY} AND f.{EVENT_TIME} < l.{EVENT_TIME}
             AND f.{EVENT_TIME} >= l.{EVENT_TIME} - INTERVAL 30 DAY
            GROUP BY l.label_row)
        SELECT * FROM lasts JOIN windows USING (label_row) ORDER BY label_row"""
    )


def duckdb_frame(
    kind: str, labels_path: Path, out: Path, memory_limit: str | None = None
) -> dict[str, float]:
    import duckdb

    from shipyard import facts

    _warm_up()
    files = list(facts.scan(TABLE).files)
    labels = pq.read_table(labels_path).select([ENTITY, EVENT_TIME])
    labels = labels.add_column(0, "label_row", pa.array(range(labels.num_rows), pa.int64()))
    started = time.perf_counter()
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")  # 30 days are 30 x 24 hours, as Shipyard's
    if memory_limit is not None:
        connection.execute("SET memory_limit = ?", [memory_limit])
    connection.register("labels", labels)
    result = connection.sql(hand_query(kind, files)).to_arrow_table()
    connection.close()
    seconds = time.perf_counter() - started
    pq.write_table(result, out)
    return {"seconds": seconds}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("store").add_argument("facts", type=Path)
    commands.add_parser("ingest").add_argument("facts", type=Path)
    commands.add_parser("log").add_argument("count", type=int)
    for name in ("frame", "duckdb"):
        command = commands.add_parser(name)
        command.add_argument("kind", choices=("full", "last"))
        command.add_argument("labels", type=Path)
        command.add_argument("out", type=Path)
        command.add_argument("--memory-limit", help="DuckDB's memory limit, e.g. 512MB")
    args = parser.parse_args(argv)
    if args.command == "store":
        figures = store(args.facts)
    elif args.command == "ingest":
        figures = ingest(args.facts)
    elif args.command == "log":
        figures = log(args.count)
    elif args.command == "frame":
        figures = frame(args.kind, args.labels, args.out, args.memory_limit)
    else:
        figures = duckdb_frame(args.kind, args.labels, args.out, args.memory_limit)
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
