"""`VectorCodec`: one entity's feature vector as compact bytes, and back.

    byte 0        format (1)
    bytes 1-8     materialization time, microseconds since the epoch (little-endian int64)
    then          a null bitmap, one bit per feature in declared order
    then          each non-null value: int64, float64, bool (1 byte), timestamp (int64 us),
                  date (int32 days), text (uint32 length + UTF-8)

The vector carries its own materialization time, so replacing it is replacing one value:
no reader can see new values with an old time or a mix of two runs. Types come from the
version's `FeatureColumn`s, so the bytes hold no names; decoding builds the same pandas
dtypes a training frame has (through Arrow, like the frame), so encoders fitted on a frame
apply to online vectors unchanged.
"""

from __future__ import annotations

import enum
import re
import struct
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shipyard.features.online.errors import OnlineStoreError
from shipyard.features.online.records import FeatureColumn

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["Kind", "StoredVector", "VectorCodec", "entity_key", "kind_of"]

FORMAT = 1
_HEADER = struct.Struct("<Bq")
_LENGTH = struct.Struct("<I")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Kind(enum.Enum):
    """How a feature's values are stored: one per family of Arrow types."""

    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    TIMESTAMP = "timestamp"
    DATE = "date"
    TEXT = "text"

    @property
    def arrow_type(self) -> pa.DataType:
        import pyarrow as pa

        return {
            Kind.INT: pa.int64(),
            Kind.FLOAT: pa.float64(),
            Kind.BOOL: pa.bool_(),
            Kind.TIMESTAMP: pa.timestamp("us", tz="UTC"),
            Kind.DATE: pa.date32(),
            Kind.TEXT: pa.string(),
        }[self]

    @property
    def storage_type(self) -> pa.DataType:
        """The Arrow type a column is cast to before packing (times as integers)."""
        import pyarrow as pa

        return {Kind.TIMESTAMP: pa.int64(), Kind.DATE: pa.int32()}.get(self, self.arrow_type)


#: The struct format of each fixed-size kind (text is length-prefixed).
_PACKED = {Kind.INT: "q", Kind.FLOAT: "d", Kind.BOOL: "?", Kind.TIMESTAMP: "q", Kind.DATE: "i"}

_KIND_OF_TYPE = [
    (re.compile(r"u?int(8|16|32|64)"), Kind.INT),
    (re.compile(r"float(16|32|64)?|double|halffloat|decimal.*"), Kind.FLOAT),
    (re.compile(r"bool"), Kind.BOOL),
    (re.compile(r"timestamp\[.*\]"), Kind.TIMESTAMP),
    (re.compile(r"date32(\[day\])?"), Kind.DATE),
    (re.compile(r"(large_)?string|(large_)?utf8"), Kind.TEXT),
]


def kind_of(type_name: str) -> Kind:
    """The storage kind of an Arrow type name (`int64`, `double`, `timestamp[us, tz=UTC]`)."""
    for pattern, kind in _KIND_OF_TYPE:
        if pattern.fullmatch(type_name):
            return kind
    raise OnlineStoreError(
        f"the online store cannot hold values of type {type_name!r}: features must be "
        "integers, floating-point numbers, booleans, text, timestamps or dates"
    )


def entity_key(value: Any, entity_type: str) -> str:
    """The store key of an entity id: integer ids as decimal text (42, "42" and numpy's 42 are
    one key), any other id as its text."""
    if kind_of(entity_type) is Kind.INT:
        try:
            return str(int(value))
        except (TypeError, ValueError):
            raise OnlineStoreError(
                f"entity id {value!r} is not an integer, but the feature set's entities are "
                f"{entity_type}"
            ) from None
    return str(value)


class StoredVector:
    """One decoded vector: the values in declared order and when they were computed."""

    __slots__ = ("materialized_at", "values")

    def __init__(self, materialized_at: datetime, values: list[Any]) -> None:
        self.materialized_at = materialized_at
        self.values = values


class VectorCodec:
    """Packs and unpacks the vectors of one feature set version."""

    def __init__(self, columns: Sequence[FeatureColumn]) -> None:
        self.columns = tuple(columns)
        self.kinds = tuple(kind_of(column.type) for column in self.columns)
        self._bitmap = (len(self.columns) + 7) // 8
        self._packers = [struct.Struct("<" + _PACKED.get(kind, "")) for kind in self.kinds]

    # ----------------------------------------------------------------------- encoding

    def encode_frame(self, frame: pd.DataFrame, materialized_at: datetime) -> list[bytes]:
        """One vector per row of `frame` (a training frame's feature columns)."""
        stamp = _micros(materialized_at)
        columns = [
            self._plain_column(frame[column.name], kind)
            for column, kind in zip(self.columns, self.kinds, strict=True)
        ]
        return [self._encode_row(stamp, row) for row in zip(*columns, strict=True)]

    def _plain_column(self, values: pd.Series, kind: Kind) -> list[Any]:
        import pyarrow as pa

        try:
            array = pa.array(values, from_pandas=True)
            if kind in (Kind.TIMESTAMP, Kind.DATE):
                array = array.cast(kind.arrow_type)
            return array.cast(kind.storage_type).to_pylist()  # type: ignore[no-any-return]
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise OnlineStoreError(
                f"feature {values.name!r} has values the online store cannot hold as "
                f"{kind.name.lower()} ({values.dtype}): {exc}"
            ) from exc

    def _encode_row(self, stamp: int, row: Sequence[Any]) -> bytes:
        bitmap = bytearray(self._bitmap)
        parts = [_HEADER.pack(FORMAT, stamp), b""]
        for index, (value, kind) in enumerate(zip(row, self.kinds, strict=True)):
            if value is None:
                bitmap[index >> 3] |= 1 << (index & 7)
            elif kind is Kind.TEXT:
                data = str(value).encode()
                parts.append(_LENGTH.pack(len(data)) + data)
            else:
                parts.append(self._packers[index].pack(value))
        parts[1] = bytes(bitmap)
        return b"".join(parts)

    # ----------------------------------------------------------------------- decoding

    def decode(self, data: bytes) -> StoredVector:
        """The values and materialization time packed in `data`."""
        form, stamp = _HEADER.unpack_from(data)
        if form != FORMAT:
            raise OnlineStoreError(
                f"an online vector is in format {form}, which this Shipyard cannot read "
                "(1 is known); materialize again with --full"
            )
        offset = _HEADER.size
        bitmap = data[offset : offset + self._bitmap]
        offset += self._bitmap
        values: list[Any] = []
        for index, kind in enumerate(self.kinds):
            if bitmap[index >> 3] & (1 << (index & 7)):
                values.append(None)
            elif kind is Kind.TEXT:
                (length,) = _LENGTH.unpack_from(data, offset)
                offset += _LENGTH.size
                values.append(data[offset : offset + length].decode())
                offset += length
            else:
                packer = self._packers[index]
                values.append(packer.unpack_from(data, offset)[0])
                offset += packer.size
        return StoredVector(_EPOCH + timedelta(microseconds=stamp), values)

    def empty_values(self) -> list[Any]:
        """The vector of an entity without facts: what a training frame gives such a label."""
        return [column.empty for column in self.columns]

    def frame(self, rows: Sequence[Sequence[Any]], index: pd.Index) -> pd.DataFrame:
        """A frame of decoded value rows, one column per feature, with a training frame's
        dtypes: those Arrow's `to_pandas` gives the frame (integers with a null become
        floats, text and times convert through Arrow itself). Numbers are built with NumPy
        directly: a scorer builds a frame per request, and Arrow's conversion costs more
        than the lookup."""
        import pandas as pd

        columns = {
            column.name: _column([row[position] for row in rows], kind)
            for position, (column, kind) in enumerate(zip(self.columns, self.kinds, strict=True))
        }
        return pd.DataFrame(columns, index=index, copy=False)

    @property
    def plain(self) -> bool:
        """Whether `arrays` can hold every column (no times: those convert through Arrow)."""
        return not {Kind.TIMESTAMP, Kind.DATE} & set(self.kinds)

    def arrays(self, rows: Sequence[Sequence[Any]]) -> list[Any]:
        """The columns of decoded value rows as plain NumPy arrays holding the values a
        training frame's columns hold (`frame`, without a frame): numbers as in `frame`,
        text and booleans with nulls as objects (a null text as NaN, as Arrow's string
        column gives it). Only for a `plain` codec."""
        return [
            _plain_array([row[position] for row in rows], kind)
            for position, kind in enumerate(self.kinds)
        ]


def _plain_array(values: list[Any], kind: Kind) -> Any:
    import numpy as np

    if kind is Kind.TEXT or (kind is Kind.BOOL and None in values):
        null = np.nan if kind is Kind.TEXT else None
        objects = np.empty(len(values), dtype=object)
        objects[:] = [null if v is None else v for v in values]
        return objects
    return _column(values, kind)


def _column(values: list[Any], kind: Kind) -> Any:
    """One feature's values as Arrow's `to_pandas` would hand them to a training frame."""
    import numpy as np

    has_null = any(value is None for value in values)
    if kind is Kind.FLOAT or (kind is Kind.INT and has_null):
        return np.array([np.nan if v is None else v for v in values], dtype="float64")
    if kind is Kind.INT:
        return np.array(values, dtype="int64")
    if kind is Kind.BOOL and not has_null:
        return np.array(values, dtype="bool")
    import pyarrow as pa

    return pa.array(values, type=kind.arrow_type).to_pandas().array  # no index to align


def _micros(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
