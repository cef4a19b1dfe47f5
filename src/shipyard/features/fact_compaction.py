"""Compaction: many small batches of a fact table merged into one, with no answer changed.

Writers that log facts make many small batches, and a read opens every file of every batch.
Compaction rewrites the small VISIBLE batches bucket by bucket into one new batch, keeping every
version of every fact with its own `recorded_at` (restatements included), so that a read at any
`as_of` returns exactly what it returned before. It is safe while writers write:

1. the batches to merge are listed (a batch committed later is simply not among them);
2. the new files are written first, under temporary names then renamed (still invisible);
3. one catalogue transaction marks the merged batches REPLACED and makes the new one VISIBLE;
   if another compaction merged any of them meanwhile, nothing changes and the new files are
   removed.

The replaced batches' files are NOT deleted then: a reader that listed them just before the
swap may still be reading them. A later compaction deletes the files of batches replaced more
than `grace` ago (default an hour) and forgets those batches, and deletes the files that no
batch lists and that were last written more than `grace` ago: those a killed writer left.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from shipyard.features.fact_abort import abort_stale
from shipyard.features.scan import RECORDED_AT

if TYPE_CHECKING:
    from shipyard.features.fact_files import FactFiles
    from shipyard.metadata.contract import FactCatalogStore
    from shipyard.metadata.fact_records import FactBatchRecord, FactTableRecord

__all__ = ["DEFAULT_GRACE", "SMALL_BATCH_ROWS", "Compaction", "compact"]

#: A batch with fewer rows than this is merged by compaction.
SMALL_BATCH_ROWS = 1_000_000
#: How long the files of a replaced batch are kept for readers that listed them.
DEFAULT_GRACE = timedelta(hours=1)


@dataclass(frozen=True)
class Compaction:
    """What one compaction did."""

    table: str
    #: The batches merged (empty when fewer than two were small) and the batch they became.
    merged: tuple[int, ...]
    into: int | None
    rows: int
    files_before: int
    files_after: int
    #: Files deleted now: of batches replaced more than the grace period ago, and files no
    #: batch lists written before it (left by killed writers).
    files_deleted: int


def compact(
    catalogue: FactCatalogStore,
    files: FactFiles,
    table: FactTableRecord,
    *,
    small_rows: int = SMALL_BATCH_ROWS,
    grace: timedelta = DEFAULT_GRACE,
) -> Compaction:
    """Merge the small visible batches of `table` into one; delete expired replaced files."""
    deleted = _delete_expired(catalogue, files, table, grace)
    small = [b for b in catalogue.list_batches(table.name) if b.row_count < small_rows]
    before = sum(len(b.files) for b in small)
    if len(small) < 2:
        return Compaction(table.name, (), None, 0, before, before, deleted)
    written: list[str] = []
    try:
        for paths in _by_bucket(small).values():
            written += _merge(files, table, paths)
        merged = catalogue.replace_batches(
            table.name,
            [b.batch_id for b in small],
            files=written,
            row_count=sum(b.row_count for b in small),
            min_event_time=min((b.min_event_time for b in small if b.min_event_time), default=None),
            max_event_time=max((b.max_event_time for b in small if b.max_event_time), default=None),
        )
    except BaseException:
        files.remove(written)
        raise
    return Compaction(
        table.name,
        tuple(b.batch_id for b in small),
        merged.batch_id,
        merged.row_count,
        before,
        len(written),
        deleted,
    )


def _by_bucket(batches: list[FactBatchRecord]) -> dict[str, list[str]]:
    """The batches' files grouped by their bucket folder (files of one bucket merge into one)."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for batch in batches:
        for path in batch.files:
            grouped[path.rsplit("/", 2)[-2]].append(path)
    return dict(sorted(grouped.items()))


def _merge(files: FactFiles, table: FactTableRecord, paths: list[str]) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = pa.concat_tables([pq.read_table(files.url(path)) for path in paths])
    return files.write(
        table.name,
        data,
        entity=table.entity,
        sort_by=[table.entity, table.event_time, RECORDED_AT],
        stamp=datetime.now(UTC),
    )


def _delete_expired(
    catalogue: FactCatalogStore, files: FactFiles, table: FactTableRecord, grace: timedelta
) -> int:
    """Delete the files of batches replaced before the grace period and forget the batches;
    give up writes begun before it and never committed (killed writers: readers waiting for
    them go on), and delete the files no batch lists last written before it."""
    from shipyard.metadata.fact_records import BatchState

    cutoff = datetime.now(UTC) - grace
    replaced = catalogue.list_batches(table.name, states=[BatchState.REPLACED])
    expired = [b for b in replaced if b.replaced_at is not None and b.replaced_at <= cutoff]
    doomed = [path for b in expired for path in b.files]
    files.remove(doomed)
    catalogue.forget_batches(table.name, [b.batch_id for b in expired])
    # Writers that began before the grace period and never ended are given up (fact_abort).
    return len(doomed) + abort_stale(catalogue, files, table, grace).files_deleted
