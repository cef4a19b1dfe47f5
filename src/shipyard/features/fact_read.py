"""Reading the facts of a `FactScan` with DuckDB: the as-of rule, then the caller's filters.

The rule every reader of facts applies (training frames too): a fact counts only if it was
recorded at or before `as_of`, and of the versions of one (entity, event time) the one recorded
last wins. Here it is one window query over the scan's Parquet files, filtered by entity and
event time before the window, which both keys make safe: a version is never compared with
another of a different entity or event time.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shipyard.features.fact_files import buckets_of
from shipyard.features.scan import RECORDED_AT, FactScan

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["files_for_entities", "quote", "read_scan"]


def quote(identifier: str) -> str:
    """An SQL identifier quoted for DuckDB, whatever characters the column name holds."""
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def files_for_entities(scan: FactScan, entities: pa.Array) -> tuple[str, ...]:
    """The scan's files that may hold any of `entities`: those in their buckets' folders.

    A file outside the bucket layout (an external table's) is always kept.
    """
    wanted = {f"/b{bucket:02d}/" for bucket in buckets_of(entities).tolist()}
    return tuple(
        path
        for path in scan.files
        if not _in_a_bucket(path) or any(marker in path for marker in wanted)
    )


def _in_a_bucket(path: str) -> bool:
    folder = path.rsplit("/", 2)[-2] if path.count("/") >= 2 else ""
    return len(folder) == 3 and folder[0] == "b" and folder[1:].isdigit()


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
    import duckdb
    import pyarrow as pa

    from shipyard.features.fact_schema import arrow_schema

    schema = arrow_schema(scan.schema)
    wanted_columns = list(columns) if columns is not None else list(scan.schema)
    files = scan.files
    wanted = None
    if entities is not None:
        wanted = pa.table({"entity": pa.array(list(entities), type=schema.field(scan.entity).type)})
        files = files_for_entities(scan, wanted.column("entity"))
    if not files:
        empty = schema.append(pa.field(RECORDED_AT, pa.timestamp("us", tz="UTC")))
        keep = [*wanted_columns, RECORDED_AT]
        return empty.empty_table().select(keep).to_pandas()
    entity, event_time = quote(scan.entity), quote(scan.event_time)
    conditions: list[str] = []
    parameters: list[Any] = []
    if scan.as_of is not None:
        conditions.append(f"{quote(RECORDED_AT)} <= ?")
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
    selected = ", ".join(quote(name) for name in [*wanted_columns, RECORDED_AT])
    sql = f"""
        SELECT {selected}
        FROM read_parquet([{", ".join(_literal(f) for f in files)}])
        {where}
        QUALIFY row_number() OVER (
            PARTITION BY {entity}, {event_time} ORDER BY {quote(RECORDED_AT)} DESC
        ) = 1
        ORDER BY {entity}, {event_time}
    """
    with duckdb.connect() as connection:
        connection.execute("SET TimeZone = 'UTC'")
        if wanted is not None:
            connection.register("wanted", wanted)
        result = connection.sql(sql, params=parameters).to_arrow_table()
    return result.to_pandas()
