"""Plain, immutable records of the fact catalogue's rows, as every `FactCatalogStore` returns
them; `features.facts` turns them into what its users see (frames, scans, listings)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

__all__ = ["BatchState", "FactBatchRecord", "FactTableRecord"]


class BatchState(enum.StrEnum):
    """Where a batch is in its life; only VISIBLE batches are ever read."""

    #: Its recorded_at is allocated and its files are being written; invisible to readers.
    PENDING = "pending"
    #: Committed: its facts are part of the table from its recorded_at on.
    VISIBLE = "visible"
    #: Merged into a larger batch by compaction; its files stay until garbage collection.
    REPLACED = "replaced"
    #: The writer gave up (a failed write); its files, if any, are garbage.
    ABORTED = "aborted"


@dataclass(frozen=True)
class FactTableRecord:
    """One declared fact table."""

    name: str
    entity: str
    event_time: str
    #: Column name to Arrow type name ("int64", "double", "string", "timestamp[us, tz=UTC]").
    schema: dict[str, str]
    #: Where an external table's Parquet files are (a path or glob); None for a stored table.
    location: str | None
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class FactBatchRecord:
    """One append-only batch of a table: files written together, visible together."""

    table: str
    batch_id: int
    state: BatchState
    #: When the batch's facts were recorded; for a batch made by compaction, the earliest
    #: recorded_at of the facts it holds (each fact keeps its own in its file).
    recorded_at: datetime
    #: The latest recorded_at of its facts (equal to `recorded_at` for a written batch).
    last_recorded_at: datetime
    #: Paths of its Parquet files, relative to the datastore root (absolute for external ones).
    files: tuple[str, ...] = ()
    row_count: int = 0
    min_event_time: datetime | None = None
    max_event_time: datetime | None = None
    #: The batch that replaced this one (compaction), if any, and when.
    replaced_by: int | None = None
    replaced_at: datetime | None = None
