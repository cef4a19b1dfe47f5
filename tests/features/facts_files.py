"""Real fact files for the tests: Parquet in the layout `FactScan` describes (the declared
columns plus `recorded_at`), written with pyarrow, one file per recorded batch."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from shipyard.features import RECORDED_AT, FactScan

PLAYS_SCHEMA = {
    "member_id": "int64",
    "ts": "timestamp[us, tz=UTC]",
    "minutes": "double",
    "genre": "string",
}
_ARROW = pa.schema(
    [
        ("member_id", pa.int64()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("minutes", pa.float64()),
        ("genre", pa.string()),
        (RECORDED_AT, pa.timestamp("us", tz="UTC")),
    ]
)


def at(day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    """A moment in January 2025, UTC."""
    return datetime(2025, 1, day, hour, minute, second, micro, tzinfo=UTC)


class PlaysTable:
    """The `plays` fact table as a list of batch files in a folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: list[str] = []

    def write(self, rows: Sequence[tuple[int, datetime, float | None, str | None]], *,
              recorded_at: datetime) -> None:  # fmt: skip
        """One batch: rows of (member_id, ts, minutes, genre), all recorded at `recorded_at`."""
        columns: dict[str, list[Any]] = {name: [] for name in _ARROW.names}
        for member_id, ts, minutes, genre in rows:
            for name, value in zip(
                _ARROW.names, (member_id, ts, minutes, genre, recorded_at), strict=True
            ):
                columns[name].append(value)
        path = self.folder / f"batch-{len(self.files):04d}.parquet"
        pq.write_table(pa.table(columns, schema=_ARROW), path)
        self.files.append(str(path))

    def scan(self, as_of: datetime | None = None) -> FactScan:
        return FactScan("plays", "member_id", "ts", PLAYS_SCHEMA, tuple(self.files), as_of)
