"""External fact tables: Parquet files that stay where they are (a warehouse export on S3, a
folder of daily dumps), registered in the catalogue instead of copied.

    facts.table("orders", entity="customer_id", event_time="ordered_at",
                schema={...}, location="s3://warehouse/exports/orders/*.parquet")
    facts.refresh("orders")        # registers the files exported since

Declaring the table registers the files its path or glob matches then, as one batch: the
registration time is the `recorded_at` of every fact in them (the files have no such column;
`FactScan.registered_at` carries it and `fact_read.facts_source` fills it in). Files that
appear later are not part of the table until `refresh` registers them as a new batch, so a read
`as_of` a past moment never sees an export that came after it. Each file's columns are checked
against the declared schema when it is registered; the files must not change afterwards
(a warehouse export writes new files rather than rewriting old ones).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from shipyard.features.fact_schema import FactSchemaError, arrow_schema, castable

__all__ = ["check_files", "match_files", "row_counts"]


def match_files(location: str) -> list[str]:
    """The files `location` (a path, a glob, or an fsspec URL of either) names now, as URLs
    (local files as absolute paths), sorted."""
    import fsspec.core

    if "://" not in location:
        location = str(Path(location).expanduser().absolute())
    fs, pattern = fsspec.core.url_to_fs(location)
    if any(char in pattern for char in "*?["):
        found = sorted(fs.glob(pattern))
    elif fs.isdir(pattern):
        found = sorted(fs.glob(pattern.rstrip("/") + "/**/*.parquet"))
    else:
        found = [pattern] if fs.exists(pattern) else []
    local = "://" not in location or location.startswith("file://")
    return [path if local else str(fs.unstrip_protocol(path)) for path in found]


def check_files(table: str, files: list[str], schema: Mapping[str, str]) -> None:
    """Raise `FactSchemaError` naming the file and the column if a file lacks a declared
    column or holds it in a type that cannot become the declared one."""
    import fsspec
    import pyarrow.parquet as pq

    declared = arrow_schema(schema)
    for path in files:
        with fsspec.open(path, "rb") as handle:
            found = pq.read_schema(handle)
        for field in declared:
            index = found.get_field_index(field.name)
            if index < 0:
                raise FactSchemaError(
                    f"fact table {table!r}: {path} has no column {field.name!r} (it has "
                    f"{', '.join(found.names)}); nothing was registered"
                )
            if not castable(found.field(index).type, field.type):
                raise FactSchemaError(
                    f"fact table {table!r}: column {field.name!r} of {path} is "
                    f"{found.field(index).type}, not {field.type}; nothing was registered"
                )


def row_counts(files: list[str]) -> dict[str, int]:
    """How many rows each file holds, from its footer (nothing else is read)."""
    import fsspec
    import pyarrow.parquet as pq

    counts = {}
    for path in files:
        with fsspec.open(path, "rb") as handle:
            counts[path] = pq.ParquetFile(handle).metadata.num_rows
    return counts
