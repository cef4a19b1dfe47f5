"""Reading the facts of a `FactScan` with DuckDB: the as-of rule, then the caller's filters.

The rule every reader of facts applies (training frames too): a fact counts only if it was
recorded at or before `as_of`, and of the versions of one (entity, event time) the one recorded
last wins. Here it is one window query over the scan's Parquet files, filtered by entity and
event time before the window, which both keys make safe: a version is never compared with
another of a different entity or event time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shipyard.features import duck
from shipyard.features.fact_files import buckets_of
from shipyard.features.scan import RECORDED_AT, FactScan
from shipyard.features.sql_text import identifier, literal

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["facts_source", "for_entities", "read_scan"]


def for_entities(scan: FactScan, entities: pa.Array) -> FactScan:
    """The scan narrowed to the files that may hold any of `entities`: the store's files in
    their buckets' folders, and every registered (external) file, which has no buckets."""
    wanted = {f"b{bucket:02d}" for bucket in buckets_of(entities).tolist()}
    registered = scan.registered_at or (None,) * len(scan.files)
    kept = [
        (path, at)
        for path, at in zip(scan.files, registered, strict=True)
        if at is not None or path.rsplit("/", 2)[-2] in wanted  # the file's bucket folder
    ]
    return replace(
        scan,
        files=tuple(path for path, _ in kept),
        registered_at=tuple(at for _, at in kept) if scan.registered_at else (),
    )


def facts_source(scan: FactScan, *, positions: bool = False) -> str:
    """A DuckDB relation (SQL text) of every version of the scan's facts: its declared columns
    cast to their types, and `RECORDED_AT`, taken from the store's files or, for registered
    files, their registration time. Empty scans have no source: check `scan.files` first.

    `positions` adds `file_index` and `file_row_number`, which order the versions recorded at
    one time as the store does: the later file of `scan.files`, then the later row, wins."""
    from shipyard.features.fact_schema import DUCKDB_TYPES

    columns = [
        f"CAST({identifier(name)} AS {DUCKDB_TYPES[kind]}) AS {identifier(name)}"
        for name, kind in scan.schema.items()
    ]
    groups: dict[datetime | None, list[str]] = {}
    registered = scan.registered_at or (None,) * len(scan.files)
    for path, at in zip(scan.files, registered, strict=True):
        groups.setdefault(at, []).append(path)
    parts = []
    offset = 0
    for at, paths in groups.items():
        recorded = identifier(RECORDED_AT) if at is None else f"TIMESTAMPTZ '{at.isoformat()}'"
        listing = ", ".join(literal(path) for path in paths)
        place = f", file_index + {offset} AS file_index, file_row_number" if positions else ""
        parts.append(
            f"SELECT {', '.join(columns)}, {recorded} AS {identifier(RECORDED_AT)}{place} "
            f"FROM read_parquet([{listing}])"
        )
        offset += len(paths)
    return "(" + " UNION ALL ".join(parts) + ")"


def read_scan(
    scan: FactScan,
    *,
    entities: Iterable[Any] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    columns: Iterable[str] | None = None,
) -> pd.DataFrame:
    """The visible version of every fact of `scan` of `entities` (all if None) with an event
    time in [start, end), sorted by entity and event time, with its `recorded_at`."""
    import pyarrow as pa

    from shipyard.features.fact_schema import arrow_schema

    schema = arrow_schema(scan.schema)
    wanted_columns = list(columns) if columns is not None else list(scan.schema)
    wanted = None
    if entities is not None:
        wanted = pa.table({"entity": pa.array(list(entities), type=schema.field(scan.entity).type)})
        scan = for_entities(scan, wanted.column("entity"))
    if not scan.files:
        empty = schema.append(pa.field(RECORDED_AT, pa.timestamp("us", tz="UTC")))
        keep = [*wanted_columns, RECORDED_AT]
        return empty.empty_table().select(keep).to_pandas()
    entity, event_time = identifier(scan.entity), identifier(scan.event_time)
    conditions: list[str] = []
    parameters: list[Any] = []
    if scan.as_of is not None:
        conditions.append(f"{identifier(RECORDED_AT)} <= ?")
        parameters.append(scan.as_of)
    if start is not None:
        conditions.append(f"{event_time} >= ?")
        parameters.append(start)
    if end is not None:
        conditions.append(f"{event_time} < ?")
        parameters.append(end)
    if wanted is not None:
        conditions.append(f"{entity} IN (SELECT entity FROM wanted)")
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    selected = ", ".join(identifier(name) for name in [*wanted_columns, RECORDED_AT])
    sql = f"""
        SELECT {selected}
        FROM {facts_source(scan)}
        {where}
        QUALIFY row_number() OVER (
            PARTITION BY {entity}, {event_time} ORDER BY {identifier(RECORDED_AT)} DESC
        ) = 1
        ORDER BY {entity}, {event_time}
    """
    with duck.connection() as connection:
        if wanted is not None:
            connection.register("wanted", wanted)
        result = connection.sql(sql, params=parameters).to_arrow_table()
    return result.to_pandas()
