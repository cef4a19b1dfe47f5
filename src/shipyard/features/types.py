"""Arrow types from the type names a fact table's schema is written in (`int64`, `double`,
`string`, `timestamp[us, tz=UTC]`, ...), for the cases where no file says the types."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from shipyard.features.errors import FeatureDefinitionError
from shipyard.features.scan import RECORDED_AT

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["arrow_type", "empty_facts"]

_TIMESTAMP = re.compile(r"timestamp\[(s|ms|us|ns)(?:, tz=(.+))?\]")


def arrow_type(name: str) -> pa.DataType:
    """The Arrow type named `name`, as `str(pyarrow_type)` spells it."""
    import pyarrow as pa

    timestamp = _TIMESTAMP.fullmatch(name)
    if timestamp is not None:
        unit, tz = timestamp.groups()
        return pa.timestamp(unit, tz=tz)
    try:
        return pa.type_for_alias(name)
    except ValueError:
        raise FeatureDefinitionError(
            f"unknown column type {name!r}: use an Arrow type name such as int64, double, "
            "string, bool or timestamp[us, tz=UTC]"
        ) from None


def empty_facts(schema: Mapping[str, str]) -> pa.Table:
    """A table with no rows and the columns of a fact file (`RECORDED_AT` included)."""
    import pyarrow as pa

    fields = [pa.field(name, arrow_type(type_name)) for name, type_name in schema.items()]
    fields.append(pa.field(RECORDED_AT, pa.timestamp("us", tz="UTC")))
    return pa.schema(fields).empty_table()
