"""A fact table's schema: the column types a declaration may name, and the check every write
passes before anything of it is stored.

Types are Arrow types, named as Arrow prints them ("int64", "double", "string", "bool",
"timestamp[us, tz=UTC]"); a few everyday aliases ("int", "float", "str", "timestamp") are
accepted in declarations and stored under their Arrow name, so two spellings of one schema
compare equal. Every timestamp is stored as microseconds in UTC; a naive one is taken as UTC.

The check is strict about kinds and lenient about width: an int32 column fits an int64 one and
an integer fits a double, but a string never becomes a number (a CSV file, whose every value is
text, is parsed first). A value that does not fit is reported with its column, its row (counted
from 0 in the data written) and the value itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shipyard.exceptions import ShipyardError
from shipyard.features.scan import RECORDED_AT

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "DUCKDB_TYPES",
    "TIMESTAMP",
    "FactSchemaError",
    "arrow_schema",
    "castable",
    "conform",
    "normalize_schema",
]

#: How every timestamp of a fact table is stored.
TIMESTAMP = "timestamp[us, tz=UTC]"

_ALIASES = {
    "int": "int64",
    "integer": "int64",
    "long": "int64",
    "float": "double",
    "float64": "double",
    "float32": "float",
    "str": "string",
    "text": "string",
    "boolean": "bool",
    "timestamp": TIMESTAMP,
    "datetime": TIMESTAMP,
    "date": "date32[day]",
}
#: The DuckDB type of each type a declaration may name: what a reader casts a column to.
DUCKDB_TYPES = {
    "int8": "TINYINT",
    "int16": "SMALLINT",
    "int32": "INTEGER",
    "int64": "BIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "string": "VARCHAR",
    "bool": "BOOLEAN",
    "date32[day]": "DATE",
    TIMESTAMP: "TIMESTAMPTZ",
}
_TYPES = tuple(name for name in DUCKDB_TYPES if name != TIMESTAMP)


_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,127}")


class FactSchemaError(ShipyardError):
    """A declaration or a write that does not fit a fact table's schema; nothing was stored."""


def normalize_schema(
    table: str, schema: Mapping[str, Any], *, entity: str, event_time: str
) -> dict[str, str]:
    """The declared schema with every type under its Arrow name; raises `FactSchemaError` for
    a table name that is not a plain name (it names a folder), an unknown type, a missing
    entity or event-time column, or the reserved `recorded_at`."""
    if not _TABLE_NAME.fullmatch(table):
        raise FactSchemaError(
            f"{table!r} is not a fact table name: use letters, digits, '_', '-' and '.', "
            "starting with a letter or '_'"
        )
    normalized = {str(name): _type_name(table, str(name), kind) for name, kind in schema.items()}
    for role, column in (("entity", entity), ("event_time", event_time)):
        if column not in normalized:
            raise FactSchemaError(
                f"fact table {table!r}: its {role} column {column!r} is not in the schema "
                f"({', '.join(normalized) or 'no columns'}); add it with its type"
            )
    if not normalized[event_time].startswith("timestamp"):
        raise FactSchemaError(
            f"fact table {table!r}: the event_time column {event_time!r} must be a timestamp, "
            f"not {normalized[event_time]}"
        )
    if RECORDED_AT in normalized:
        raise FactSchemaError(
            f"fact table {table!r}: {RECORDED_AT!r} is set by the store on every fact and "
            "cannot be declared; name the column differently"
        )
    return normalized


def _type_name(table: str, column: str, kind: Any) -> str:
    name = _ALIASES.get(str(kind).lower(), str(kind))
    if name.startswith("timestamp"):
        return TIMESTAMP
    if name not in _TYPES:
        raise FactSchemaError(
            f"fact table {table!r}: column {column!r} has type {kind!r}, which is not one of "
            f"{', '.join(_TYPES)}, timestamp (or int, float, str, bool)"
        )
    return name


def arrow_schema(schema: Mapping[str, str]) -> pa.Schema:
    """The Arrow schema of a normalized declaration, in its column order."""
    import pyarrow as pa

    return pa.schema([(name, _arrow_type(kind)) for name, kind in schema.items()])


def _arrow_type(name: str) -> pa.DataType:
    import pyarrow as pa

    if name == TIMESTAMP:
        return pa.timestamp("us", tz="UTC")
    if name == "date32[day]":
        return pa.date32()
    return pa.type_for_alias(name)


def conform(
    table: str, data: pa.Table, schema: Mapping[str, str], *, entity: str, event_time: str
) -> pa.Table:
    """`data` with exactly the declared columns, in order, each of its declared type; raises
    `FactSchemaError` naming the column (and for a value, its row and the value) otherwise.

    Entity and event time may not be null: a fact without them belongs to nobody and no time.
    """
    import pyarrow as pa

    given = list(data.column_names)
    missing = [name for name in schema if name not in given]
    extra = [name for name in given if name not in schema]
    if missing or extra:
        parts = [f"missing column {', '.join(map(repr, missing))}" if missing else ""]
        parts.append(f"unknown column {', '.join(map(repr, extra))}" if extra else "")
        raise FactSchemaError(
            f"fact table {table!r}: {'; '.join(p for p in parts if p)} (its columns are "
            f"{', '.join(schema)}); nothing was written"
        )
    columns = [
        _conform_column(table, name, data.column(name), _arrow_type(kind))
        for name, kind in schema.items()
    ]
    conformed = pa.table(columns, names=list(schema))
    for required in (entity, event_time):
        column = conformed.column(required)
        if column.null_count:
            row = column.is_null().to_pylist().index(True)
            raise FactSchemaError(
                f"fact table {table!r}: column {required!r}, row {row}: value is null, and every "
                "fact needs its entity and event time; nothing was written"
            )
    return conformed


def _conform_column(table: str, name: str, column: Any, target: pa.DataType) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    source = column.type
    if source == target:
        return column
    if not castable(source, target):
        # Text (a CSV value that did not parse) is named by its first unparsable value.
        text = pa.types.is_string(source) or pa.types.is_large_string(source)
        found = _first_failing(column, target) if text else None
        row, value = found or _first_value(column)
        raise FactSchemaError(
            f"fact table {table!r}: column {name!r}, row {row}: value {value!r} is {source}, "
            f"not {target}; nothing was written"
        )
    try:
        return pc.cast(column, target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        row, value = _first_failing(column, target) or _first_value(column)
        raise FactSchemaError(
            f"fact table {table!r}: column {name!r}, row {row}: value {value!r} does not fit "
            f"{target}; nothing was written"
        ) from None


def castable(source: pa.DataType, target: pa.DataType) -> bool:
    """Whether values of `source` may become `target` without changing what they mean."""
    import pyarrow.types as t

    if t.is_null(source):
        return True
    if t.is_integer(target):
        return t.is_integer(source) or t.is_floating(source)  # 2.0 fits; 2.5 fails the cast
    if t.is_floating(target):
        return t.is_integer(source) or t.is_floating(source)
    if t.is_timestamp(target):
        return t.is_timestamp(source) or t.is_date(source)
    if t.is_string(target):
        return t.is_string(source) or t.is_large_string(source) or t.is_dictionary(source)
    if t.is_date(target):
        return t.is_date(source)
    return False


def _first_value(column: Any) -> tuple[int, Any]:
    """The first non-null value (the one that shows the wrong type) and its row."""
    for row, value in enumerate(column.to_pylist()):
        if value is not None:
            return row, value
    return 0, None


def _first_failing(column: Any, target: pa.DataType) -> tuple[int, Any] | None:
    """The first value that does not cast safely, and its row (the slow path of an error)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for row, value in enumerate(column.to_pylist()):
        try:
            pc.cast(pa.array([value], type=column.type), target, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return row, value
    return None
