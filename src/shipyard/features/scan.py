"""`FactScan`: what a reader of a fact table gets, the one seam between the fact store and
everything computed from facts (features, training frames, materialization).

The fact store (`features/facts.py` and its catalogue) decides where facts live and which
batches are visible; a reader receives the Parquet files to read and the names of the
columns that carry the entity and the two times, and runs its own query over them (DuckDB).
Every file has the table's declared columns plus `RECORDED_AT`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["RECORDED_AT", "FactScan"]

#: The column the store adds to every fact: when it was recorded (UTC, microseconds). A fact
#: for an (entity, event time) recorded again later restates the earlier one from then on.
RECORDED_AT = "recorded_at"


@dataclass(frozen=True)
class FactScan:
    """The visible facts of one table, as of `as_of` (None: everything recorded so far)."""

    table: str
    entity: str
    event_time: str
    #: Declared columns and their types (Arrow type names such as "int64", "double",
    #: "string", "timestamp[us, tz=UTC]"), the entity and event time included.
    schema: dict[str, str]
    #: The Parquet files holding the visible batches (local paths or fsspec URLs). A file may
    #: hold facts recorded after `as_of` only if it was registered in place (external tables);
    #: readers always filter on `RECORDED_AT <= as_of` and keep, per (entity, event time),
    #: the version with the latest `RECORDED_AT`.
    files: tuple[str, ...]
    as_of: datetime | None = None
    #: For each of `files` (same order; empty when none is), None for a file the store wrote,
    #: or for a file registered in place (an external table's, which has no `RECORDED_AT`
    #: column) the time it was registered: the recorded_at of every fact in it.
    #: `fact_read.facts_source(scan)` is the DuckDB relation that fills it in.
    registered_at: tuple[datetime | None, ...] = ()
