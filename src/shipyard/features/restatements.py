"""Whether a scan's files may hold restatements, from their Parquet footers alone.

Resolving restatements (keeping, per entity and event time, the version recorded last) costs
a pass over every fact, and most tables never restate anything: each write appends new
events. A fact can only be restated by another fact of the same entity and event time, so
two files can only restate each other where both their entity ranges and their event-time
ranges overlap; and one file written by one `ingest` (a single `recorded_at`) never holds
two versions, because a write with two is refused: its files say so in their footers
(`fact_files.ONE_VERSION_PER_KEY`). Files in different entity-hash buckets never share an
entity at all. That mark and the min/max statistics in every stored file's footer are enough
to prove that no two facts of a scan share a key; where they are not (a compacted file, which
keeps every version, an external file, a missing statistic, or overlapping ranges), the
readers resolve restatements as always.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shipyard.features.fact_files import ONE_VERSION_PER_KEY
from shipyard.features.scan import FactScan

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["MAX_FILES", "may_restate", "repeats_a_key"]

#: Past this many files the footers are not read: the scan is taken to restate (a table
#: written by many small log batches is worth compacting anyway).
MAX_FILES = 2_000

# (smallest entity, largest entity, earliest event, latest event) of one file.
_Box = tuple[Any, Any, Any, Any]


def may_restate(scan: FactScan) -> bool:
    """False only when no two facts of `scan` can share an entity and event time."""
    if len(scan.files) > MAX_FILES or any(at is not None for at in scan.registered_at):
        return True
    buckets: dict[str, list[_Box]] = {}
    for path in scan.files:
        box = _box(path, scan.entity, scan.event_time)
        if box is None:
            return True
        buckets.setdefault(path.rsplit("/", 2)[-2], []).append(box)  # the bucket's folder
    return any(_overlapping(boxes) for boxes in buckets.values())


def repeats_a_key(data: pa.Table, entity: str, event_time: str) -> bool:
    """Whether two rows of `data` share an entity and event time: what a file must not hold
    to be marked `ONE_VERSION_PER_KEY`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if data.num_rows < 2:
        return False
    keys = pa.table({"e": data.column(entity), "t": data.column(event_time)})
    # Sorted, a repeated key is two neighbours: cheaper than grouping every key.
    ordered = keys.take(pc.sort_indices(keys, sort_keys=[("e", "ascending"), ("t", "ascending")]))
    before, after = ordered.slice(0, len(ordered) - 1), ordered.slice(1)
    repeated = pc.and_(pc.equal(before["e"], after["e"]), pc.equal(before["t"], after["t"]))
    return bool(pc.any(repeated).as_py())


def _box(path: str, entity: str, event_time: str) -> _Box | None:
    """The entity and event-time ranges of a file marked as holding one version per key;
    None for a file without the mark or without statistics."""
    import fsspec.core
    import pyarrow.parquet as pq

    fs, local = fsspec.core.url_to_fs(path)
    with fs.open(local, "rb") as source:
        metadata = pq.ParquetFile(source).metadata
    if (metadata.metadata or {}).get(ONE_VERSION_PER_KEY) != b"true":
        return None  # maybe several versions in the file itself: a compaction's output
    entities, times = _range(metadata, entity), _range(metadata, event_time)
    if entities is None or times is None:
        return None
    return (*entities, *times)


def _range(metadata: Any, column: str) -> tuple[Any, Any] | None:
    """(min, max) of `column` over every row group, None if any statistic is missing."""
    names = [metadata.schema.column(i).name for i in range(metadata.num_columns)]
    if column not in names:
        return None
    index = names.index(column)
    lows, highs = [], []
    for group in range(metadata.num_row_groups):
        statistics = metadata.row_group(group).column(index).statistics
        if statistics is None or not statistics.has_min_max or statistics.null_count:
            return None
        lows.append(statistics.min)
        highs.append(statistics.max)
    if not lows:
        return None
    return min(lows), max(highs)


def _overlapping(boxes: list[_Box]) -> bool:
    """Whether any two boxes overlap in both ranges: a sweep over entities, comparing each
    box only with those whose entity range is still open."""
    open_boxes: list[_Box] = []
    for box in sorted(boxes, key=lambda b: b[0]):
        open_boxes = [other for other in open_boxes if other[1] >= box[0]]
        if any(other[2] <= box[3] and box[2] <= other[3] for other in open_boxes):
            return True
        open_boxes.append(box)
    return False
