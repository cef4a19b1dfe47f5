"""Materialization: each entity's feature vector as of a moment, written to an online store.

A run at moment `T` computes, for the chosen entities, exactly what `training_frame` gives a
label row (entity, `T`) with `as_of=T`: the same compiled definitions, the same facts. Which
entities:

- **full** (the first run of a version, or asked for): every entity with a fact recorded by `T`;
- **incremental** (from the version's watermark `W`, the moment of the last complete run):
  only entities whose values may differ between `W` and `T`, i.e. that have a fact
    * recorded after `W` (new, late or restated facts),
    * with an event time in `[W, T)`, recorded earlier but in the future as of `W`, or
    * with an event time in `[W - w, T - w)` for a bounded window `w` of one of the table's
      features: the window's start moved past it.
  Every other entity's value as of `T` equals its value as of `W`, so its vector stays.

Entities go in batches (sorted by fact bucket, so a batch reads few files), each batch one
`write_vectors` call; the watermark moves to `T` only after the last batch. A batch's facts
are first copied out of the table into one temporary Parquet file (in their original order,
so restatements resolve as in the table): the training-frame query then joins a few
thousand entities' facts instead of the whole table, so its cost follows the entities it
rewrites. Finding the entities and copying their facts do not: an incremental run still
reads the event times of every fact once and every column of its entities' buckets once
(a bucket's files hold facts of all times, sorted by entity, so file statistics skip
little). A killed run
therefore leaves every vector whole (old or new, `codec` packs values and time together)
and the watermark at `W`; the next run starts from `W` again, and since its entity set
(relative to `W`) contains the killed run's, it rewrites everything the killed run touched.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.features import duck
from shipyard.features.compile import epoch_micros
from shipyard.features.fact_files import ONE_VERSION_PER_KEY, buckets_of
from shipyard.features.fact_read import facts_source, for_entities
from shipyard.features.online.codec import VectorCodec, entity_key
from shipyard.features.online.columns import feature_columns
from shipyard.features.online.errors import OnlineStoreError
from shipyard.features.online.records import OnlineVersion
from shipyard.features.online.store import OnlineStore
from shipyard.features.restatements import repeats_a_key
from shipyard.features.scan import RECORDED_AT, FactScan
from shipyard.features.sql_text import identifier, literal
from shipyard.features.types import arrow_type

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import pyarrow as pa

    from shipyard.features.featureset import FeatureSet, ScanResolver

__all__ = ["DEFAULT_BATCH", "Materialization", "Progress", "materialize"]

#: Entities per batch: one training-frame query and one store write each.
DEFAULT_BATCH = 5_000
#: The label column a materialization's training frames use (feature names never start "__").
_AT = "__materialized_at"

#: Called after each batch with (entities written so far, entities to write).
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Materialization:
    """What a run did."""

    feature_set: str
    version: str
    #: The moment every written vector was computed as of (the new watermark).
    as_of: datetime
    full: bool
    #: The previous watermark an incremental run started from (None for a full run).
    since: datetime | None
    written: int
    seconds: float


def materialize(
    feature_set: FeatureSet,
    store: OnlineStore,
    *,
    full: bool = False,
    at: datetime | None = None,
    facts: ScanResolver | None = None,
    batch_size: int = DEFAULT_BATCH,
    progress: Progress | None = None,
) -> Materialization:
    """Compute the vectors of `feature_set` as of `at` (default now) and write them to
    `store`: incrementally from the last complete run unless `full` (see the module)."""
    started = time.monotonic()
    if facts is None:
        from shipyard.features import facts as fact_store

        facts = fact_store.scan
    moment = _moment(at)
    record = store.get_version(feature_set.version)
    watermark = None if record is None else record.watermark
    if watermark is not None and moment < watermark:
        raise OnlineStoreError(
            f"cannot materialize {feature_set.name!r} as of {moment.isoformat()}: the online "
            f"store holds it as of {watermark.isoformat()} already (a watermark never goes back)"
        )
    since = None if full or watermark is None else watermark
    scans = {table: facts(table, moment) for table in feature_set.tables}
    # One DuckDB for finding the entities and copying their facts out: opening one costs
    # more than an incremental run's queries. Both read the same files' footers again, which
    # the metadata cache (this connection's setting; checked against each file's version)
    # saves: the fact files never change once written.
    with duck.connection() as connection:
        connection.execute("SET parquet_metadata_cache = true")
        entities = _changed_entities(connection, feature_set, scans, moment, since)
        record, written = _write_batches(
            connection, feature_set, store, record, scans, entities, moment, batch_size, progress
        )
    store.put_version(
        record.completed(moment, datetime.now(UTC), full=since is None, written=written)
    )
    return Materialization(
        feature_set.name,
        feature_set.version,
        moment,
        since is None,
        since,
        written,
        time.monotonic() - started,
    )


def _write_batches(
    connection: duckdb.DuckDBPyConnection,
    feature_set: FeatureSet,
    store: OnlineStore,
    record: OnlineVersion | None,
    scans: Mapping[str, FactScan],
    entities: pa.Array,
    moment: datetime,
    batch_size: int,
    progress: Progress | None,
) -> tuple[OnlineVersion, int]:
    """Compute and write the vectors of `entities` batch by batch; returns the version's
    record (for a new version made from the first batch's frame and saved before its
    vectors) and how many vectors were written."""
    total = len(entities)
    codec = None if record is None else VectorCodec(record.columns)
    written = 0
    if progress is not None:
        progress(0, total)
    with tempfile.TemporaryDirectory(prefix="shipyard-materialize-") as folder:
        for batch in _batches(entities, batch_size):
            narrowed = {
                t: _batch_scan(connection, scan, batch, Path(folder)) for t, scan in scans.items()
            }
            frame = _compute(feature_set, narrowed, batch, moment)
            if record is None:
                record = _new_record(feature_set, scans, frame)
                store.put_version(record)
                codec = VectorCodec(record.columns)
            assert codec is not None
            keys = [entity_key(value, record.entity_type) for value in batch.to_pylist()]
            store.write_vectors(
                feature_set.version, dict(zip(keys, codec.encode_frame(frame, moment), strict=True))
            )
            written += len(keys)
            if progress is not None:
                progress(written, total)
    if record is None:  # no entity to write: a version whose tables have no facts yet
        record = _new_record(feature_set, scans, _compute(feature_set, scans, entities, moment))
    return record, written


def _moment(at: datetime | None) -> datetime:
    now = datetime.now(UTC)
    if at is None:
        return now
    moment = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    if moment > now:
        # Facts recorded between now and `at` would count as seen by this run without having
        # been: the next incremental run, which looks only after `at`, would miss them.
        raise OnlineStoreError(
            f"cannot materialize as of {moment.isoformat()}, which is in the future; "
            "give a past moment or none (now)"
        )
    return moment


def _new_record(
    feature_set: FeatureSet, scans: Mapping[str, FactScan], frame: pd.DataFrame
) -> OnlineVersion:
    first = scans[feature_set.tables[0]]
    return OnlineVersion(
        feature_set=feature_set.name,
        version=feature_set.version,
        entity=feature_set.entity,
        entity_type=first.schema[first.entity],
        tables=feature_set.tables,
        columns=feature_columns(feature_set, scans, frame),
    )


def _changed_entities(
    connection: duckdb.DuckDBPyConnection,
    feature_set: FeatureSet,
    scans: Mapping[str, FactScan],
    moment: datetime,
    since: datetime | None,
) -> pa.Array:
    """The distinct entities to compute (see the module), of every table with facts.

    Every condition compares one column with constants, which DuckDB evaluates inside its
    Parquet scan: the facts recorded after `since` are a query of their own, whose
    `recorded_at` range skips the files of older batches by their statistics, and the
    event-time ranges are one filter on one column, so only the rows in them have their
    entity read. That query leaves out the other conditions, which would decode their
    columns for every row: an entity it finds because of a null entity or a fact recorded
    after `moment` (in a compacted batch) is dropped or merely computed again."""
    import pyarrow as pa

    now = epoch_micros(moment)
    selects = []
    for table, scan in sorted(scans.items()):
        if not scan.files:
            continue
        entity, event = identifier(scan.entity), identifier(scan.event_time)
        recorded = f"{identifier(RECORDED_AT)} <= {_timestamp(now)}"
        if since is not None:
            recorded += f" AND {identifier(RECORDED_AT)} > {_timestamp(epoch_micros(since))}"
        selects.append(
            f"SELECT DISTINCT {entity} FROM {facts_source(scan)} "
            f"WHERE {recorded} AND {event} IS NOT NULL"
        )
        if since is not None:
            last = epoch_micros(since)
            windows = {
                f.window.micros
                for f in feature_set.features
                if f.table == table and f.window.micros is not None
            }
            ranges = " OR ".join(
                f"({event} >= {_timestamp(last - w)} AND {event} < {_timestamp(now - w)})"
                for w in sorted({0, *windows})
            )
            selects.append(f"SELECT DISTINCT {entity} FROM {facts_source(scan)} WHERE {ranges}")
    first = scans[feature_set.tables[0]]
    entities = []
    if selects:  # `execute`, not `sql`: a relation would plan the query once more first
        entities = [row[0] for row in connection.execute(" UNION ".join(selects)).fetchall()]
    return pa.array(entities, type=arrow_type(first.schema[first.entity])).drop_null()


def _timestamp(micros: int) -> str:
    """SQL: the TIMESTAMPTZ `micros` after the epoch, a constant DuckDB folds (and so can
    compare a Parquet column's statistics with)."""
    return f"make_timestamp({micros}::BIGINT)::TIMESTAMPTZ"


def _batches(entities: pa.Array, size: int) -> list[pa.Array]:
    """`entities` in batches of at most `size`, sorted by fact bucket so each batch's query
    opens only a few buckets' files."""
    import numpy as np

    if len(entities) == 0:
        return []
    order = np.argsort(buckets_of(entities), kind="stable")
    ordered = entities.take(order)
    return [ordered.slice(start, size) for start in range(0, len(ordered), size)]


def _compute(
    feature_set: FeatureSet,
    scans: Mapping[str, FactScan],
    batch: pa.Array,
    moment: datetime,
) -> pd.DataFrame:
    """The feature columns of a training frame with one label per entity of `batch`, at
    `moment`, as of `moment`."""
    import pandas as pd

    labels = pd.DataFrame({feature_set.entity: batch.to_pandas()})
    labels[_AT] = pd.Series([moment] * len(labels), dtype="datetime64[us, UTC]")
    frame = feature_set.training_frame(labels, timestamp=_AT, as_of=moment, facts=scans)
    return frame[[feature.name for feature in feature_set.features]]


def _batch_scan(
    connection: duckdb.DuckDBPyConnection, scan: FactScan, batch: pa.Array, folder: Path
) -> FactScan:
    """`scan` narrowed to the facts of `batch`'s entities: the files of their buckets, and,
    for a stored table, those files' facts of these entities copied into one Parquet file,
    in file then row order (the order restatements with equal `recorded_at` resolve by).

    The copy is read a few times and dropped: it is written without compression or
    dictionaries, and marked `ONE_VERSION_PER_KEY` when it holds no restatement, so that the
    training-frame query skips resolving versions (`restatements.may_restate`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    narrowed = for_entities(scan, batch)
    if not narrowed.files or narrowed.registered_at:
        return narrowed  # an external table's files carry no recorded_at column to copy
    paths = ", ".join(literal(path) for path in narrowed.files)
    columns = ", ".join(identifier(name) for name in [*scan.schema, RECORDED_AT])
    connection.register("batch", pa.table({"entity": batch}))
    try:
        facts = connection.sql(
            f"SELECT {columns} FROM read_parquet([{paths}]) "
            f"WHERE {identifier(scan.entity)} IN (SELECT entity FROM batch) "
            "ORDER BY file_index, file_row_number"
        ).to_arrow_table()
    finally:
        connection.unregister("batch")
    if not repeats_a_key(facts, scan.entity, scan.event_time):
        facts = facts.replace_schema_metadata(
            {**(facts.schema.metadata or {}), ONE_VERSION_PER_KEY: b"true"}
        )
    path = folder / f"{scan.table}-{len(list(folder.iterdir()))}.parquet"
    pq.write_table(facts, path, compression="none", use_dictionary=False)
    return replace(narrowed, files=(str(path),))
