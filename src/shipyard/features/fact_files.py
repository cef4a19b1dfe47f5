"""Where a fact table's Parquet files live on the datastore, and how one is written.

    <datastore>/facts/<table>/b07/20261201T005412123456-3fa2c1d9.parquet

Facts are split by a hash of their entity into `BUCKETS` folders, and each file is sorted by
entity, event time and recorded time: a read for a few entities opens only their buckets'
files, and DuckDB skips most row groups of those by their min/max statistics. The hash is
pandas' `hash_array` (SipHash with a fixed key, stable across runs and machines) of the value
in its declared type, so writers and readers agree on a bucket without coordination.

A file is written under a temporary name and renamed into place, so a listed file is always
whole; files become visible only when the catalogue commits the batch that lists them, so a
file no batch lists is garbage (a write that failed, or the inputs of a compaction).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Collection, Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa
    from fsspec import AbstractFileSystem

__all__ = ["BUCKETS", "ONE_VERSION_PER_KEY", "FactFiles", "buckets_of"]

#: How many entity-hash folders a stored table is split into.
BUCKETS = 16
#: The footer key (Parquet key-value metadata) of a file holding at most one fact per
#: (entity, event time): the files of one ingest, whose duplicates are refused. Readers may
#: skip resolving versions between files that carry it (`restatements.may_restate`).
ONE_VERSION_PER_KEY = b"shipyard.one_version_per_key"
_TEMP_PREFIX = ".tmp-"


def buckets_of(values: pa.Array | pa.ChunkedArray) -> Any:
    """The bucket (0 to BUCKETS-1) of each entity value, as a numpy array."""
    import numpy as np
    import pandas as pd

    array = values.to_numpy(zero_copy_only=False)
    if array.dtype.kind in "OUS":
        array = np.asarray(array, dtype=object)
    return pd.util.hash_array(array, categorize=False) % BUCKETS


class FactFiles:
    """The fact files of one datastore (a local folder or any fsspec URL)."""

    def __init__(self, datastore_url: str) -> None:
        import fsspec.core

        self._fs: AbstractFileSystem
        self._fs, root = fsspec.core.url_to_fs(datastore_url)
        self._root = root.rstrip("/")

    def url(self, relative: str) -> str:
        """What a reader opens for a path the catalogue holds: a local path, or a URL."""
        if "://" in relative or relative.startswith("/"):
            return relative  # an external table's file, recorded as given
        path = f"{self._root}/{relative}"
        return path if _is_local(self._fs) else str(self._fs.unstrip_protocol(path))

    def write(
        self,
        table: str,
        data: pa.Table,
        *,
        entity: str,
        sort_by: list[str],
        stamp: datetime,
        one_version_per_key: bool = False,
    ) -> list[str]:
        """Write `data` as one sorted file per bucket it touches; return their relative paths.
        `one_version_per_key` marks the files (`ONE_VERSION_PER_KEY`): the caller checked it.

        On failure the files already written are removed before the error propagates.
        """
        import pyarrow.compute as pc

        data = data.sort_by([(name, "ascending") for name in sort_by])
        # Facts read back from marked files carry the mark: only the caller's word counts.
        metadata = dict(data.schema.metadata or {})
        metadata.pop(ONE_VERSION_PER_KEY, None)
        if one_version_per_key:
            metadata[ONE_VERSION_PER_KEY] = b"true"
        data = data.replace_schema_metadata(metadata)
        buckets = buckets_of(data.column(entity))
        name = f"{_stamp_prefix(stamp)}{secrets.token_hex(4)}.parquet"
        written: list[str] = []
        try:
            for bucket in sorted(set(buckets.tolist())):
                part = data.filter(pc.equal(buckets, bucket))
                relative = f"facts/{table}/b{bucket:02d}/{name}"
                self._write_file(relative, part)
                written.append(relative)
        except BaseException:
            self.remove(written)
            raise
        return written

    def _write_file(self, relative: str, data: pa.Table) -> None:
        import pyarrow.parquet as pq

        final = f"{self._root}/{relative}"
        folder = final.rsplit("/", 1)[0]
        temp = f"{folder}/{_TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(8)}"
        self._fs.makedirs(folder, exist_ok=True)
        try:
            with self._fs.open(temp, "wb") as sink:
                pq.write_table(
                    data, sink, row_group_size=128 * 1024, use_dictionary=_dictionary_columns(data)
                )
            self._fs.mv(temp, final)
        except BaseException:
            if self._fs.exists(temp):
                self._fs.rm(temp)
            raise

    def remove(self, relatives: Iterable[str]) -> None:
        """Delete files of the store (those of a failed write); missing ones are fine."""
        for relative in relatives:
            path = f"{self._root}/{relative}"
            if self._fs.exists(path):
                self._fs.rm(path)

    def table_files(self, table: str, *, temporary: bool = False) -> Iterator[str]:
        """Every file under a table's folder, relative to the root: the finished ones, and the
        temporary ones of writes in progress (or killed) too if `temporary`."""
        base = f"{self._root}/facts/{table}"
        if not self._fs.exists(base):
            return
        for path in sorted(self._fs.find(base)):
            if temporary or not path.rsplit("/", 1)[-1].startswith(_TEMP_PREFIX):
                yield path[len(self._root) + 1 :]

    def unlisted_before(
        self,
        table: str,
        listed: set[str],
        cutoff: datetime,
        *,
        stamps: Collection[datetime] = (),
    ) -> list[str]:
        """The table's files (temporary ones included) that no batch lists and that were last
        written before `cutoff` or written with one of `stamps` (batches given up): what a
        killed writer left behind."""
        prefixes = tuple(_stamp_prefix(stamp) for stamp in stamps)
        stale = []
        for relative in self.table_files(table, temporary=True):
            if relative in listed:
                continue
            if prefixes and relative.rsplit("/", 1)[-1].startswith(prefixes):
                stale.append(relative)
                continue
            try:
                modified = self._fs.modified(f"{self._root}/{relative}")
            except FileNotFoundError:  # a writer renamed its temporary file meanwhile
                continue
            if modified.tzinfo is None:
                modified = modified.astimezone(UTC)  # fsspec gives local naive times here
            if modified < cutoff:
                stale.append(relative)
        return stale


def _stamp_prefix(stamp: datetime) -> str:
    """How the names of the files written with `stamp` (a batch's recorded_at, UTC) begin."""
    return f"{stamp:%Y%m%dT%H%M%S%f}-"


def _dictionary_columns(data: pa.Table) -> list[str]:
    """The columns worth dictionary-encoding: not measurements and times, whose values rarely
    repeat (encoding them tries a dictionary, gives up, and more than doubles write time)."""
    import pyarrow as pa

    return [
        field.name
        for field in data.schema
        if not (pa.types.is_floating(field.type) or pa.types.is_timestamp(field.type))
    ]


def _is_local(fs: AbstractFileSystem) -> bool:
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(fs, LocalFileSystem)
