"""Feast's point-in-time join over the benchmark's facts (peer side, in `.venv-feast`).

    feast_frame.py FACTS_DIR LABELS OUT ENTITY TIMESTAMP COLUMN [COLUMN ...]

A feature view over the fact files (a `FileSource` on the folder, Feast's default local
"file" offline store), one entity, a 30-day TTL and the given columns; then
`get_historical_features` for the labels, with the label's position (`label_row`) carried
through so that its rows can be matched to Shipyard's. Prints `{"seconds": ...}`: the time of
`get_historical_features(...).to_df()` alone. Writes `label_row` and the columns to OUT.
"""

import json
import sys
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd
from feast_repo import events_store  # this folder: the peers run as scripts

TTL = timedelta(days=30)


def main(facts: Path, labels: Path, out: Path, entity: str, timestamp: str, columns: list[str]):
    store = events_store(
        out.parent / "feast-repo", "bench", facts, entity, timestamp, columns, ttl=TTL, online=False
    )
    entity_df = pd.read_parquet(labels, columns=[entity, timestamp])
    entity_df = entity_df.rename(columns={timestamp: "event_timestamp"})
    entity_df.insert(0, "label_row", range(len(entity_df)))
    started = time.perf_counter()
    frame = store.get_historical_features(
        entity_df=entity_df, features=[f"events:{column}" for column in columns]
    ).to_df()
    seconds = time.perf_counter() - started
    frame[["label_row", *columns]].to_parquet(out, index=False)
    print(json.dumps({"seconds": seconds}), flush=True)


if __name__ == "__main__":
    paths = [Path(arg).resolve() for arg in sys.argv[1:4]]  # Feast resolves from its repo
    main(*paths, *sys.argv[4:6], sys.argv[6:])
