"""Turning artifacts into bytes and back, without copying the large buffers inside them.

Two encodings, named in every `ArtifactRef` so a reader never guesses:

- ``pickle5``: pickle protocol 5 with out-of-band buffers. The blob is a small header, the
  pickle stream, then each buffer's raw bytes (64-byte aligned). Saving writes the buffers
  straight from the objects' memory; loading hands pickle views on the one blob bytearray,
  so a NumPy array (or a pandas block) comes back writable and without a copy.
- ``arrow-ipc``: the Arrow IPC stream format for `pyarrow.Table`, whose column buffers are
  written in place and read back as views with `pyarrow.ipc.open_stream`.

Header layout of a ``pickle5`` blob (little-endian)::

    4s  magic b"SHYP"      B  format version     3x  reserved
    I   buffer count       Q  pickle stream length
    Q * buffer count       each buffer's length

Reading a pickle5 blob maps CUDA tensors to the CPU where no GPU is visible and finds classes
of the flow file from the run's code snapshot (`shipyard.datastore.unpickling`).

NumPy, pandas and pyarrow are imported only when an object of theirs is met, because
`import shipyard` must stay fast.
"""

from __future__ import annotations

import pickle
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shipyard.datastore.unpickling import unpickle
from shipyard.exceptions import ShipyardError

if TYPE_CHECKING:
    from shipyard.datastore.flow_classes import FlowClasses

__all__ = [
    "ENCODING_ARROW",
    "ENCODING_PICKLE5",
    "ArtifactSerializationError",
    "SerializedArtifact",
    "deserialize",
    "serialize",
]

ENCODING_PICKLE5 = "pickle5"
ENCODING_ARROW = "arrow-ipc"

_MAGIC = b"SHYP"
_VERSION = 1
# Cache-line alignment: NumPy views on the blob are aligned for any dtype and for SIMD loads.
_ALIGNMENT = 64
_HEADER = struct.Struct("<4sB3xIQ")
_LENGTH = struct.Struct("<Q")

Chunk = bytes | memoryview


class ArtifactSerializationError(ShipyardError):
    """An object cannot be turned into bytes, or a stored artifact cannot be turned back."""


@dataclass(frozen=True, slots=True)
class SerializedArtifact:
    """An object's stored form as a list of pieces, written in order without joining them.

    Keeping the pieces apart is what avoids copying: large pieces are views on the object's
    own memory, and they stay valid as long as this value is alive.
    """

    chunks: list[Chunk]
    type_name: str
    encoding: str

    @property
    def size(self) -> int:
        """Total number of bytes the blob will hold."""
        return sum(memoryview(c).nbytes for c in self.chunks)


def type_name_of(obj: Any) -> str:
    """The fully qualified name of `obj`'s type, shown to users browsing artifacts."""
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def serialize(obj: Any) -> SerializedArtifact:
    """Turn `obj` into the pieces of a blob, choosing the encoding that avoids copies."""
    if _is_arrow_table(obj):
        return SerializedArtifact(_arrow_chunks(obj), type_name_of(obj), ENCODING_ARROW)
    return SerializedArtifact(_pickle5_chunks(obj), type_name_of(obj), ENCODING_PICKLE5)


def deserialize(
    data: bytearray | bytes | memoryview, encoding: str, flow_classes: FlowClasses | None = None
) -> Any:
    """Rebuild the object stored in `data` by `serialize`.

    Large buffers in the result are views on `data`, which they keep alive; pass a bytearray
    (as `BlobStore.get` returns) to get writable arrays. `flow_classes` finds the classes of
    the flow file of the run that stored it (see `shipyard.datastore.unpickling`).
    """
    if encoding == ENCODING_PICKLE5:
        return _load_pickle5(data, flow_classes)
    if encoding == ENCODING_ARROW:
        return _load_arrow(data)
    raise ArtifactSerializationError(
        f"unknown artifact encoding {encoding!r}: the artifact was probably written by a newer "
        "version of Shipyard; upgrade Shipyard to read it."
    )


# -- pickle5 -------------------------------------------------------------------------------


def _pickle5_chunks(obj: Any) -> list[Chunk]:
    buffers: list[memoryview] = []

    def take_out_of_band(buffer: pickle.PickleBuffer) -> bool:
        try:
            raw = buffer.raw()
        except BufferError:
            return True  # not contiguous: let pickle keep it in the stream
        buffers.append(raw)
        return False

    try:
        stream = pickle.dumps(obj, protocol=5, buffer_callback=take_out_of_band)
    except Exception as exc:
        # Whatever a __reduce__ raises, the outcome for the user is the same: this value
        # cannot be stored as it is.
        raise ArtifactSerializationError(
            f"cannot store an artifact of type {type_name_of(obj)}: it cannot be pickled "
            f"({type(exc).__name__}: {exc}). Store a picklable representation instead "
            "(e.g. plain data, a file's content, or the parameters needed to rebuild it)."
        ) from exc

    header = _HEADER.pack(_MAGIC, _VERSION, len(buffers), len(stream))
    lengths = b"".join(_LENGTH.pack(b.nbytes) for b in buffers)
    chunks: list[Chunk] = [header + lengths, stream]
    offset = len(header) + len(lengths) + len(stream)
    for raw in buffers:
        padding = -offset % _ALIGNMENT
        if padding:
            chunks.append(bytes(padding))
        chunks.append(raw)
        offset += padding + raw.nbytes
    return chunks


def _load_pickle5(data: bytearray | bytes | memoryview, flow_classes: FlowClasses | None) -> Any:
    view = memoryview(data).cast("B")
    if view.nbytes < _HEADER.size:
        raise _malformed("shorter than its header")
    magic, version, count, stream_length = _HEADER.unpack_from(view)
    if magic != _MAGIC:
        raise _malformed("it does not start with the Shipyard magic bytes")
    if version != _VERSION:
        raise ArtifactSerializationError(
            f"pickle5 artifact format version {version} is not supported (this Shipyard reads "
            f"version {_VERSION}); upgrade Shipyard to read it."
        )
    offset = _HEADER.size
    if offset + count * _LENGTH.size > view.nbytes:
        raise _malformed("its buffer table is truncated")
    lengths = [_LENGTH.unpack_from(view, offset + i * _LENGTH.size)[0] for i in range(count)]
    offset += count * _LENGTH.size

    stream = view[offset : offset + stream_length]
    offset += stream_length
    buffers = []
    for length in lengths:
        offset += -offset % _ALIGNMENT
        buffers.append(view[offset : offset + length])
        offset += length
    if offset != view.nbytes:
        raise _malformed("its length does not match its header")
    return unpickle(stream, buffers=buffers, flow_classes=flow_classes)


def _malformed(reason: str) -> ArtifactSerializationError:
    return ArtifactSerializationError(
        f"the blob is not a valid pickle5 artifact ({reason}); it was not written by "
        "Shipyard's serializer or was stored with the wrong encoding."
    )


# -- arrow-ipc -----------------------------------------------------------------------------


def _is_arrow_table(obj: Any) -> bool:
    # Checking the module name first means pyarrow is never imported for other objects.
    if not type(obj).__module__.startswith("pyarrow"):
        return False
    import pyarrow as pa

    return isinstance(obj, pa.Table)


class _ChunkSink:
    """A write-only file that keeps what it is given instead of copying it.

    The Arrow IPC writer hands column buffers over as `pyarrow.Buffer`s that share the
    table's memory, so collecting views on them serializes a table without copying its data.
    """

    closed = False

    def __init__(self) -> None:
        self.chunks: list[Chunk] = []

    def write(self, data: Any) -> int:
        chunk: Chunk = data if isinstance(data, bytes) else memoryview(data).cast("B")
        self.chunks.append(chunk)
        return len(chunk)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def _arrow_chunks(table: Any) -> list[Chunk]:
    import pyarrow as pa

    sink = _ChunkSink()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.chunks


def _load_arrow(data: bytearray | bytes | memoryview) -> Any:
    import pyarrow as pa

    with pa.ipc.open_stream(pa.py_buffer(data)) as reader:
        return reader.read_all()
