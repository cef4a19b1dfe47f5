"""The synthetic facts and labels of the features benchmark, written as plain Parquet files.

Every entity has the same number of events at random microsecond times over one year, with
three numeric columns; labels pick a random entity and a random time from ten days before
the year to ten days after it, so some labels come before their entity's first fact (Feast's
local store drops those rows) and some long after its last (every feature is then empty).
Facts are generated and written one block of entities at a time, so ten million of them
never sit in memory at once. The same seed gives the same files.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

TABLE = "events"
ENTITY = "member_id"
EVENT_TIME = "ts"
COLUMNS = ("amount", "duration", "score")
SCHEMA = {ENTITY: "int64", EVENT_TIME: "timestamp", **dict.fromkeys(COLUMNS, "double")}
START = datetime(2025, 1, 1, tzinfo=UTC)
_YEAR_US = 365 * 86_400 * 1_000_000
_MARGIN_US = 10 * 86_400 * 1_000_000
_START_US = int(START.timestamp()) * 1_000_000
# Entities per generated block: 10,000 entities x 100 events is 1,000,000 facts.
_BLOCK = 10_000


@dataclass(frozen=True)
class Scale:
    """How much data: `entities` x `events` facts, `labels` label rows."""

    entities: int
    events: int
    labels: int

    @property
    def facts(self) -> int:
        return self.entities * self.events


def write_facts(path: Path, scale: Scale, seed: int = 0) -> list[Path]:
    """One Parquet file per block of entities under `path` (a folder); returns the files.

    A block is what one `facts.ingest` call takes: its entities appear in no other block,
    so the store holds no restatements.
    """
    path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    files = []
    for block, first in enumerate(range(0, scale.entities, _BLOCK)):
        count = min(_BLOCK, scale.entities - first)
        entities = np.repeat(np.arange(first, first + count, dtype=np.int64), scale.events)
        offsets = rng.integers(0, _YEAR_US, size=entities.size, dtype=np.int64)
        columns: dict[str, pa.Array] = {
            ENTITY: pa.array(entities),
            EVENT_TIME: pa.array(_START_US + offsets, pa.int64()).cast(pa.timestamp("us", "UTC")),
        }
        for name in COLUMNS:
            columns[name] = pa.array(np.round(rng.gamma(2.0, 10.0, size=entities.size), 3))
        table = pa.table(columns)
        # One (entity, time) twice in one write is refused; redraw the rare clash.
        table = _unique_times(table)
        target = path / f"block-{block:04d}.parquet"
        pq.write_table(table, target)
        files.append(target)
    return files


def _unique_times(table: pa.Table) -> pa.Table:
    keys = pa.table({"e": table.column(ENTITY), "t": table.column(EVENT_TIME)})
    if keys.group_by(["e", "t"]).aggregate([]).num_rows == keys.num_rows:
        return table
    frame = table.to_pandas()
    frame = frame.drop_duplicates([ENTITY, EVENT_TIME])
    return pa.Table.from_pandas(frame, preserve_index=False)


def write_labels(path: Path, scale: Scale, seed: int = 1) -> Path:
    """`path` (a Parquet file): `member_id`, `ts` and a `label` column."""
    rng = np.random.default_rng(seed)
    entities = rng.integers(0, scale.entities, size=scale.labels, dtype=np.int64)
    offsets = rng.integers(-_MARGIN_US, _YEAR_US + _MARGIN_US, size=scale.labels, dtype=np.int64)
    table = pa.table(
        {
            ENTITY: pa.array(entities),
            EVENT_TIME: pa.array(_START_US + offsets, pa.int64()).cast(pa.timestamp("us", "UTC")),
            "label": pa.array(rng.integers(0, 2, size=scale.labels, dtype=np.int64)),
        }
    )
    pq.write_table(table, path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--entities", type=int, required=True)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--labels", type=int, required=True)
    args = parser.parse_args()
    scale = Scale(args.entities, args.events, args.labels)
    write_facts(args.folder / "facts", scale)
    write_labels(args.folder / "labels.parquet", scale)


if __name__ == "__main__":
    main()
