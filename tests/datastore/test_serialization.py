"""Serialization: objects to blob bytes and back, with large buffers neither copied nor lost."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from shipyard.datastore.serialization import (
    ENCODING_ARROW,
    ENCODING_PICKLE5,
    ArtifactSerializationError,
    deserialize,
    serialize,
)


def blob_of(obj: object) -> tuple[bytearray, str]:
    """What BlobStore.get would return for `obj`'s blob, and its encoding."""
    serialized = serialize(obj)
    return bytearray(b"".join(bytes(c) for c in serialized.chunks)), serialized.encoding


def round_trip(obj: object) -> object:
    data, encoding = blob_of(obj)
    return deserialize(data, encoding)


def blob_view(data: bytearray) -> np.ndarray:
    return np.frombuffer(data, dtype=np.uint8)


@pytest.mark.parametrize(
    "value",
    [0, -(2**70), 3.5, "text ✓", b"\x00bytes", None, [1, "two", 3.0], {"a": {"b": (1, 2)}}],
)
def test_plain_python_values_round_trip(value: object) -> None:
    assert round_trip(value) == value


def test_type_name_is_the_qualified_name_of_the_type() -> None:
    assert serialize(1).type_name == "builtins.int"
    assert serialize(np.zeros(1)).type_name == "numpy.ndarray"
    assert serialize(pd.DataFrame()).type_name == "pandas.DataFrame"


def test_python_objects_use_the_pickle5_encoding_with_the_shipyard_header() -> None:
    serialized = serialize({"x": 1})

    assert serialized.encoding == ENCODING_PICKLE5
    assert bytes(serialized.chunks[0][:4]) == b"SHYP"


def test_numpy_array_round_trips_with_dtype_and_shape() -> None:
    array = np.arange(24, dtype=np.int32).reshape(2, 3, 4)

    loaded = round_trip(array)

    assert loaded.dtype == np.int32
    np.testing.assert_array_equal(loaded, array)


def test_loaded_array_is_a_writable_view_on_the_blob_bytes() -> None:
    data, encoding = blob_of(np.arange(1000, dtype=np.float64))

    loaded = deserialize(data, encoding)
    loaded[0] = 42.0

    assert loaded.flags.writeable
    assert np.shares_memory(loaded, blob_view(data))


def test_array_buffers_start_64_byte_aligned_within_the_blob() -> None:
    data, encoding = blob_of({"a": np.ones(3), "b": np.ones(5, dtype=np.int8), "c": np.ones(7)})

    loaded = deserialize(data, encoding)

    base = blob_view(data).ctypes.data
    for array in loaded.values():
        assert (array.ctypes.data - base) % 64 == 0


def test_serializing_an_array_does_not_copy_its_buffer() -> None:
    array = np.ones(1_000_000)

    chunks = serialize(array).chunks

    assert any(np.shares_memory(array, np.frombuffer(c, dtype=np.uint8)) for c in chunks if c)


def test_fortran_ordered_array_round_trips_in_its_order() -> None:
    array = np.asfortranarray(np.arange(12.0).reshape(3, 4))

    loaded = round_trip(array)

    assert loaded.flags.f_contiguous
    np.testing.assert_array_equal(loaded, array)


def test_non_contiguous_array_view_round_trips() -> None:
    array = np.arange(100).reshape(10, 10)[::2, ::3]

    np.testing.assert_array_equal(round_trip(array), array)


def test_pandas_dataframe_round_trips() -> None:
    frame = pd.DataFrame(
        {
            "x": np.arange(1000, dtype=np.float64),
            "n": np.arange(1000),
            "s": [f"row {i}" for i in range(1000)],
            "t": pd.date_range("2024-01-01", periods=1000, freq="h"),
        }
    )

    pd.testing.assert_frame_equal(round_trip(frame), frame)


def test_pandas_numeric_columns_are_stored_out_of_band() -> None:
    frame = pd.DataFrame({"x": np.arange(100_000, dtype=np.float64)})

    serialized = serialize(frame)

    assert serialized.encoding == ENCODING_PICKLE5
    assert len(serialized.chunks[1]) < 100_000  # the pickle stream holds no column data


def test_arrow_table_uses_arrow_ipc_and_round_trips() -> None:
    table = pa.table({"x": np.arange(10_000, dtype=np.int64), "s": ["a", "bb"] * 5_000})

    serialized = serialize(table)
    loaded = round_trip(table)

    assert serialized.encoding == ENCODING_ARROW
    assert serialized.type_name == "pyarrow.lib.Table"
    assert loaded.equals(table)


def test_serializing_an_arrow_table_does_not_copy_its_columns() -> None:
    column = np.arange(1_000_000, dtype=np.float64)
    table = pa.table({"x": column})

    chunks = serialize(table).chunks

    assert any(np.shares_memory(column, np.frombuffer(c, dtype=np.uint8)) for c in chunks if c)


def test_loaded_arrow_table_columns_are_views_on_the_blob_bytes() -> None:
    data, encoding = blob_of(pa.table({"x": np.arange(100_000, dtype=np.float64)}))

    loaded = deserialize(data, encoding)

    values = loaded.column("x").chunk(0).to_numpy()
    assert np.shares_memory(values, blob_view(data))


def test_size_is_the_total_of_all_chunks() -> None:
    serialized = serialize(np.ones(10))

    assert serialized.size == sum(len(bytes(c)) for c in serialized.chunks)


@pytest.mark.parametrize(
    ("value", "type_name"),
    [(lambda x: x, "function"), (threading.Lock(), "lock")],
)
def test_unpicklable_object_raises_artifact_serialization_error(
    value: object, type_name: str
) -> None:
    with pytest.raises(ArtifactSerializationError) as excinfo:
        serialize(value)

    message = str(excinfo.value)
    assert type_name in message
    assert "picklable representation" in message


def test_unknown_encoding_is_refused() -> None:
    with pytest.raises(ArtifactSerializationError, match="upgrade"):
        deserialize(bytearray(b"anything"), "zstd-msgpack")


@pytest.mark.parametrize(
    "data", [b"", b"SHY", b"NOPE" + bytes(40), b"SHYP\x01\x00\x00\x00" + b"\xff" * 12]
)
def test_malformed_pickle5_blob_is_refused(data: bytes) -> None:
    with pytest.raises(ArtifactSerializationError):
        deserialize(bytearray(data), ENCODING_PICKLE5)


def test_importing_serialization_does_not_import_numpy_pandas_or_pyarrow() -> None:
    code = (
        "import sys, shipyard.datastore.serialization as s\n"
        "s.serialize({'a': 1})\n"
        "print(sorted(m for m in ('numpy', 'pandas', 'pyarrow') if m in sys.modules))"
    )

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)

    assert result.stdout.strip() == "[]", result.stderr
