"""Partitioned training frames: the labels and the facts split by entity, one DuckDB join per
partition, here one after the other or as Ray tasks.

    fs.training_frame(labels)                  # SHIPYARD_EXECUTOR=ray: a Ray task per partition
    fs.training_frame(labels, executor="ray", partitions=8)
    fs.training_frame(labels, partitions=4)    # here, a quarter of the labels at a time

Every feature of a label is computed from the facts of the label's entity alone, so a frame
can be built in pieces that share nothing. Partition `p` of `P` holds the labels whose entity
falls in a fact-store bucket `b` with `b % P == p` (`fact_files.buckets_of`: a hash of the
value that is the same in every process and on every machine), and of a stored table it reads
only those buckets' files; an external table's files are not bucketed, so every partition
reads them (and its join keeps only its entities' facts).

Each partition runs exactly what an unpartitioned build runs (`featureset.feature_values`) on
its labels, writes its SQL features as one Parquet part under a temporary name then renames
it, and hands back its Python features pickled, exactly as their functions made them. The
caller reads the parts, puts every value back at its label's position, and deletes them: the
frame is the one an unpartitioned build makes, byte for byte.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shipyard.features.compile import ENTITY, ROW
from shipyard.features.errors import TrainingFrameError
from shipyard.features.fact_files import BUCKETS, buckets_of
from shipyard.features.fact_read import for_entities
from shipyard.features.featureset import AnyFeature, FeatureValues, feature_values
from shipyard.features.partition_runner import InProcessPartitions, PartitionRunner
from shipyard.features.scan import FactScan
from shipyard.features.vectorized import PythonFeature

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["PartAnswer", "PartWork", "build_part", "build_values"]


@dataclass(frozen=True)
class PartWork:
    """Everything one partition needs, sent to wherever it runs."""

    part: int
    features: tuple[AnyFeature, ...]
    #: Each table's scan, narrowed to the files that may hold the partition's entities.
    scans: dict[str, FactScan]
    #: The partition's labels, `ROW` counting from 0 within the partition.
    label_keys: pa.Table
    #: For each of them, its position among all the labels.
    rows: Any
    as_of: datetime
    memory_limit: str | None
    #: The folder the part is written to.
    folder: str


@dataclass(frozen=True)
class PartAnswer:
    """What one partition hands back: its Parquet part and its Python features."""

    path: str
    #: Each Python feature's values, indexed by the labels' positions among all the labels.
    python: dict[str, pd.Series]


def build_values(
    features: Sequence[AnyFeature],
    scans: Mapping[str, FactScan],
    label_keys: pa.Table,
    as_of: datetime,
    memory_limit: str | None,
    *,
    executor: str | None,
    partitions: int | None,
) -> FeatureValues:
    """The features of every label, built in one piece or in partitions on `executor`
    (default: the configured one): in one piece locally unless `partitions` is given."""
    from shipyard.config import Config

    if partitions is not None and not 1 <= partitions <= BUCKETS:
        raise TrainingFrameError(
            f"partitions={partitions}: give 1 to {BUCKETS} (the fact store splits entities "
            f"into {BUCKETS} buckets, and a partition holds one or more of them)"
        )
    chosen = executor or Config.current().executor
    if (chosen == "local" and partitions is None) or label_keys.num_rows == 0:
        return feature_values(features, scans, label_keys, as_of, memory_limit)
    with _runner(chosen) as runner:
        count = partitions or min(runner.slots, BUCKETS)
        folder = f"{runner.scratch}/frame-{secrets.token_hex(8)}"
        works = _split(features, scans, label_keys, as_of, memory_limit, count, folder)
        try:
            answers = runner.map(build_part, works, by_value=_modules_of(features))
            return _assemble(answers, label_keys.num_rows)
        finally:
            _remove(folder)


def build_part(work: PartWork) -> PartAnswer:
    """Build one partition (where the runner runs it): its part written, its answer returned."""
    import pyarrow as pa

    values = feature_values(
        work.features, work.scans, work.label_keys, work.as_of, work.memory_limit
    )
    positions = pa.array(work.rows[values.sql.column(ROW).to_numpy()], pa.int64())
    sql = values.sql.set_column(values.sql.schema.get_field_index(ROW), ROW, positions)
    path = _write_part(f"{work.folder}/part-{work.part:05d}.parquet", sql)
    return PartAnswer(path, {name: s.set_axis(work.rows) for name, s in values.python.items()})


@contextmanager
def _runner(executor: str) -> Iterator[PartitionRunner]:
    if executor == "local":
        yield InProcessPartitions()
    elif executor == "ray":
        from shipyard.config import Config
        from shipyard.features.ray_partitions import ray_partitions

        with ray_partitions(Config.current()) as runner:
            yield runner
    else:
        raise TrainingFrameError(
            f"executor={executor!r}: training frames are built on 'local' or 'ray'"
        )


def _split(
    features: Sequence[AnyFeature],
    scans: Mapping[str, FactScan],
    label_keys: pa.Table,
    as_of: datetime,
    memory_limit: str | None,
    count: int,
    folder: str,
) -> list[PartWork]:
    """The work of every partition that holds labels."""
    import numpy as np
    import pyarrow as pa

    parts = buckets_of(label_keys.column(ENTITY)) % count
    works = []
    for part in range(count):
        rows = np.flatnonzero(parts == part)
        if not len(rows):
            continue
        keys = label_keys.take(pa.array(rows))
        keys = keys.set_column(
            keys.schema.get_field_index(ROW), ROW, pa.array(range(len(rows)), pa.int64())
        )
        narrowed = {table: _narrowed(scan, keys.column(ENTITY)) for table, scan in scans.items()}
        works.append(
            PartWork(part, tuple(features), narrowed, keys, rows, as_of, memory_limit, folder)
        )
    return works


def _narrowed(scan: FactScan, entities: pa.ChunkedArray) -> FactScan:
    """The scan's files that may hold facts of `entities`, hashed in the table's entity type
    (as the store hashed them); the whole scan if they are not of that type."""
    import pyarrow as pa

    from shipyard.features.fact_schema import arrow_schema

    try:
        typed = entities.cast(arrow_schema(scan.schema).field(scan.entity).type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return scan
    return for_entities(scan, typed.combine_chunks())


def _assemble(answers: Sequence[PartAnswer], rows: int) -> FeatureValues:
    """The parts put together in label order."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    sql = pa.concat_tables([_read_part(answer.path) for answer in answers])
    sql = sql.take(pc.sort_indices(sql.column(ROW)))
    names = answers[0].python
    python = {
        name: pd.concat([answer.python[name] for answer in answers]).reindex(pd.RangeIndex(rows))
        for name in names
    }
    return FeatureValues(sql, python)


def _modules_of(features: Sequence[AnyFeature]) -> set[str]:
    """The modules defining Python features' functions: they travel with the work."""
    return {
        str(feature.function.__module__)
        for feature in features
        if isinstance(feature, PythonFeature)
    } - {"__main__"}


def _write_part(path: str, table: pa.Table) -> str:
    """Write a part under a temporary name, then rename it: a part that exists is whole."""
    import fsspec.core
    import pyarrow.parquet as pq

    fs, final = fsspec.core.url_to_fs(path)
    folder, _, name = final.rpartition("/")
    temp = f"{folder}/.tmp-{name}-{secrets.token_hex(4)}"
    fs.makedirs(folder, exist_ok=True)
    with fs.open(temp, "wb") as sink:
        pq.write_table(table, sink)
    fs.mv(temp, final)
    return path


def _read_part(path: str) -> pa.Table:
    import fsspec
    import pyarrow.parquet as pq

    with fsspec.open(path, "rb") as source:
        return pq.read_table(source)


def _remove(folder: str) -> None:
    import fsspec.core

    fs, path = fsspec.core.url_to_fs(folder)
    if fs.exists(path):
        fs.rm(path, recursive=True)
