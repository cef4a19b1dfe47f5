"""`FeatureSet`: a named, versioned list of features (and encoders) over one entity, and the
point-in-time training frames built from it.

The version is the content hash of the whole definition, so two feature sets with the same
name but any difference in a feature (column, window, filter, a Python feature's source) or
an encoder's parameters are different versions, and a frame or a model records exactly which
one it used.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from shipyard.features import duck
from shipyard.features.compile import (
    ENTITY,
    LABELS,
    ROW,
    TIME,
    TableFeatures,
    compile_training_query,
    compile_window_facts_query,
    empty_source,
)
from shipyard.features.definitions import Feature
from shipyard.features.encoders import Encoder, State
from shipyard.features.errors import EncoderError, FeatureDefinitionError, TrainingFrameError
from shipyard.features.exact_sums import exact_scales
from shipyard.features.filters import check_filters
from shipyard.features.fitted import FittedFeatureSet
from shipyard.features.frames import LINEAGE_KEY, FrameLineage
from shipyard.features.hashing import content_hash
from shipyard.features.restatements import may_restate
from shipyard.features.scan import FactScan
from shipyard.features.snapshot import TrainingSnapshot
from shipyard.features.types import empty_facts
from shipyard.features.vectorized import PythonFeature

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import pyarrow as pa

    from shipyard.features.online.materialize import Materialization, Progress
    from shipyard.features.online.parity import ParityReport
    from shipyard.features.online.store import OnlineStore

__all__ = ["FeatureSet", "FeatureValues", "ScanResolver", "feature_values"]

#: Where a training frame finds a table's facts: called with the table and the frame's
#: `as_of`, it returns the scan of the facts visible then (the fact store's `scan`).
ScanResolver = Callable[[str, datetime], FactScan]

#: What a feature set holds: SQL features and Python ones.
AnyFeature = Feature | PythonFeature

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


class FeatureSet:
    """Features computed for one entity (e.g. `member_id`), under one name and version."""

    def __init__(
        self,
        name: str,
        *,
        entity: str,
        features: Sequence[AnyFeature],
        encoders: Mapping[str, Encoder | Sequence[Encoder]] | None = None,
    ) -> None:
        if _NAME.fullmatch(name) is None:
            raise FeatureDefinitionError(
                f"bad feature set name {name!r}: use letters, digits, '_', '.' and '-'"
            )
        if not features:
            raise FeatureDefinitionError(f"feature set {name!r} has no features; give at least one")
        seen: set[str] = set()
        for feature in features:
            if feature.name in seen:
                raise FeatureDefinitionError(
                    f"feature set {name!r} has two features named {feature.name!r}; "
                    "give one of them another name= (names become the frame's columns)"
                )
            seen.add(feature.name)
        self.name = name
        self.entity = entity
        self.features = tuple(features)
        self.encoders = _encoder_chains(name, seen, encoders or {})

    def __repr__(self) -> str:
        return (
            f"FeatureSet({self.name!r}, version={self.version[:12]}, {len(self.features)} features)"
        )

    def definition(self) -> dict[str, Any]:
        """Everything that decides the set's values, in canonical JSON-able form."""
        return {
            "name": self.name,
            "entity": self.entity,
            "features": [feature.definition() for feature in self.features],
            "encoders": {
                column: [encoder.definition() for encoder in chain]
                for column, chain in self.encoders.items()
            },
        }

    @cached_property
    def version(self) -> str:
        """The sha256 of the definition: a changed definition is a new version."""
        return content_hash(self.definition())

    @property
    def tables(self) -> tuple[str, ...]:
        """The fact tables the features read, sorted."""
        return tuple(sorted({feature.table for feature in self.features}))

    def fit(self, frame: pd.DataFrame) -> FittedFeatureSet:
        """Fit every encoder on `frame` (a training frame of this set), each step of a chain
        on the output of the one before; the result carries the profile of the encoded
        frame (`FittedFeatureSet.snapshot`), which registering a model keeps for drift."""
        chains: dict[str, tuple[tuple[Encoder, State], ...]] = {}
        for column, chain in self.encoders.items():
            if column not in frame.columns:
                raise EncoderError(f"the frame has no column {column!r} to fit an encoder on")
            values: Any = frame[column]
            fitted = []
            for encoder in chain:
                state = encoder.fit(values)
                fitted.append((encoder, state))
                values = encoder.transform(values, state)
            chains[column] = tuple(fitted)
        encoders = FittedFeatureSet(self.name, self.version, chains)
        inputs = [f.name for f in self.features if f.name in frame.columns]
        encoded = encoders.transform(frame[inputs])
        snapshot = TrainingSnapshot.of(self.name, self.version, encoded)
        return dataclasses.replace(encoders, snapshot=snapshot)

    def training_frame(
        self,
        labels: pd.DataFrame,
        *,
        timestamp: str = "timestamp",
        as_of: datetime | None = None,
        facts: Mapping[str, FactScan] | ScanResolver | None = None,
        memory_limit: str | None = None,
        executor: str | None = None,
        partitions: int | None = None,
    ) -> pd.DataFrame:
        """`labels` with one column per feature, point-in-time correct.

        Each feature of a label row is computed from the facts of the row's entity whose
        event time is strictly before the row's `timestamp` and inside the feature's window,
        as recorded at or before `as_of` (restatements resolved to the latest version). Every
        label row is kept, in order, with its index; a row without facts gets null (0 for
        counts). Timestamps are compared to the microsecond; naive ones are UTC.

        `as_of` defaults to the scans' common `as_of`, else now; the frame records it (see
        `lineage_of`), so rebuilding with it gives byte-identical output. `facts` gives each
        table's scan: a mapping, or a resolver called with the table and `as_of`; by default
        the configured fact store's (`shipyard.facts.scan`).
        `memory_limit` (e.g. "512MB") caps DuckDB's memory; past it, DuckDB spills to a
        temporary folder instead of holding the facts in memory (default: DuckDB's own).

        `executor` ("local" or "ray"; default: the configured executor, `SHIPYARD_EXECUTOR`)
        and `partitions` (1 to 16) split the build by entity (`features/partitioned.py`): on
        Ray, one task per partition (as many as the cluster has CPUs by default); locally,
        only when `partitions` is given, one partition after the other. The frame is the
        same, byte for byte.
        """
        _check_labels(labels, self.entity, timestamp, self.features)
        if facts is None:
            from shipyard.features import facts as fact_store

            facts = fact_store.scan
        as_of = _resolve_as_of(as_of, facts)
        scans = {table: _scan_of(facts, table, as_of) for table in self.tables}
        for feature in self.features:
            feature.check_schema(scans[feature.table].schema)
        for table, scan in scans.items():
            filters = {
                f.name: f.where
                for f in self.features
                if isinstance(f, Feature) and f.table == table and f.where is not None
            }
            check_filters(table, scan.schema, filters)
        from shipyard.features.partitioned import build_values

        label_keys = _label_keys(labels, self.entity, timestamp)
        values = build_values(
            self.features,
            scans,
            label_keys,
            as_of,
            memory_limit,
            executor=executor,
            partitions=partitions,
        )
        columns = values.columns()
        frame = _attach(labels, {f.name: columns[f.name] for f in self.features})
        lineage = FrameLineage(self.name, self.version, as_of, self.tables, self.entity, timestamp)
        frame.attrs[LINEAGE_KEY] = lineage.to_json()
        return frame

    def materialize(
        self,
        store: OnlineStore,
        *,
        full: bool = False,
        at: datetime | None = None,
        facts: ScanResolver | None = None,
        progress: Progress | None = None,
    ) -> Materialization:
        """Write every entity's feature values as of `at` (default now) to the online
        `store`, computed as `training_frame` computes a label at that moment: incrementally,
        only the entities whose values may have changed since the last complete run, unless
        `full` (see `shipyard.features.online.materialize`). `progress(done, total)` is
        called after each batch of entities."""
        from shipyard.features.online.materialize import materialize

        return materialize(self, store, full=full, at=at, facts=facts, progress=progress)

    def check_online(
        self,
        store: OnlineStore,
        *,
        sample: int = 1_000,
        fitted: FittedFeatureSet | None = None,
        facts: ScanResolver | None = None,
    ) -> ParityReport:
        """Recompute `sample` of the store's vectors offline, as of their materialization
        time, and report every value that differs (also encoded, given `fitted`)."""
        from shipyard.features.online.parity import check_parity

        return check_parity(self, store, sample=sample, fitted=fitted, facts=facts)


def _encoder_chains(
    name: str, features: set[str], encoders: Mapping[str, Encoder | Sequence[Encoder]]
) -> dict[str, tuple[Encoder, ...]]:
    """Each encoded feature's chain of encoders, checked: a known feature, and an expanding
    encoder (one_hot) only at the end of its chain."""
    chains: dict[str, tuple[Encoder, ...]] = {}
    for column, given in sorted(encoders.items()):
        chain = (given,) if isinstance(given, Encoder) else tuple(given)
        if column not in features:
            raise FeatureDefinitionError(
                f"feature set {name!r}: an encoder is given for {column!r}, which is not one of "
                f"its features ({', '.join(sorted(features))})"
            )
        if not chain or any(encoder.expands for encoder in chain[:-1]):
            raise FeatureDefinitionError(
                f"feature set {name!r}: the encoders of {column!r} must be one encoder or a "
                "non-empty list in which only the last may make several columns (one_hot)"
            )
        chains[column] = chain
    return chains


def _check_labels(
    labels: pd.DataFrame, entity: str, timestamp: str, features: Sequence[AnyFeature]
) -> None:
    for column in (entity, timestamp):
        if column not in labels.columns:
            raise TrainingFrameError(
                f"the labels have no column {column!r} (columns: {list(labels.columns)}); "
                "labels need the entity, a timestamp (timestamp=...) and the label columns"
            )
    clashes = sorted({f.name for f in features} & {str(c) for c in labels.columns})
    if clashes:
        raise TrainingFrameError(
            f"the labels already have columns named like features: {clashes}; rename them"
        )


def _resolve_as_of(
    as_of: datetime | None, facts: Mapping[str, FactScan] | ScanResolver
) -> datetime:
    if as_of is None and isinstance(facts, Mapping):
        pinned = {scan.as_of for scan in facts.values()}
        if len(pinned) == 1:
            as_of = pinned.pop()
    return _utc(as_of) if as_of is not None else datetime.now(UTC)


def _utc(moment: datetime) -> datetime:
    """`moment` with a time zone: a naive datetime is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _scan_of(facts: Mapping[str, FactScan] | ScanResolver, table: str, as_of: datetime) -> FactScan:
    if not isinstance(facts, Mapping):
        return facts(table, as_of)
    if table not in facts:
        raise TrainingFrameError(
            f"no facts given for the table {table!r}: facts= must map every table the "
            f"feature set reads ({', '.join(sorted(facts))} given)"
        )
    scan = facts[table]
    if scan.as_of is not None and _utc(scan.as_of) < as_of:
        raise TrainingFrameError(
            f"the scan of {table!r} is as of {scan.as_of.isoformat()}, before the frame's "
            f"as_of {as_of.isoformat()}: facts recorded in between would be missing"
        )
    return scan


def _label_keys(labels: pd.DataFrame, entity: str, timestamp: str) -> pa.Table:
    """The labels as DuckDB needs them: position, entity and timestamp (microseconds)."""
    import numpy as np
    import pyarrow as pa

    times = pa.array(labels[timestamp])
    if not pa.types.is_timestamp(times.type):
        raise TrainingFrameError(
            f"the labels' {timestamp!r} column holds {times.type}, not timestamps; "
            "convert it (pandas.to_datetime) first"
        )
    unit = pa.timestamp("us", tz=times.type.tz or "UTC")
    return pa.table(
        {
            ROW: pa.array(np.arange(len(labels), dtype=np.int64)),  # not 200,000 Python ints
            ENTITY: pa.array(labels[entity]),
            TIME: times.cast(unit, safe=False),
        }
    )


@dataclass(frozen=True)
class FeatureValues:
    """The features of some labels: the SQL ones as DuckDB answered them, the Python ones as
    their functions did."""

    #: `ROW` (the label's position) and one column per SQL feature, ordered by `ROW`.
    sql: pa.Table
    #: Each Python feature's values, indexed by `ROW`.
    python: dict[str, pd.Series]

    def columns(self) -> dict[str, pd.Series]:
        """Every feature as a pandas column, in label order."""
        return {**dict(self.sql.drop_columns([ROW]).to_pandas().items()), **self.python}


def feature_values(
    features: Sequence[AnyFeature],
    scans: Mapping[str, FactScan],
    label_keys: pa.Table,
    as_of: datetime,
    memory_limit: str | None,
) -> FeatureValues:
    """Every feature for the labels of `label_keys` (`ROW`, `ENTITY`, `TIME`; `ROW` counting
    from 0), computed in this process."""
    python = {
        feature.name: _python_feature(
            feature, scans[feature.table], label_keys, as_of, memory_limit
        )
        for feature in features
        if isinstance(feature, PythonFeature)
    }
    return FeatureValues(_sql_features(features, scans, label_keys, as_of, memory_limit), python)


def _sql_features(
    features: Sequence[AnyFeature],
    scans: Mapping[str, FactScan],
    label_keys: pa.Table,
    as_of: datetime,
    memory_limit: str | None,
) -> pa.Table:
    """Every SQL feature, from one query."""
    groups = [
        TableFeatures(scan, chosen, restated=may_restate(scan))
        for t, scan in sorted(scans.items())
        if (chosen := tuple(f for f in features if isinstance(f, Feature) and f.table == t))
    ]
    if not groups:
        return label_keys.select([ROW])
    relations = {LABELS: label_keys}
    for index, group in enumerate(groups):
        if not group.scan.files:
            relations[empty_source(index)] = empty_facts(group.scan.schema)
    with _connection(relations, memory_limit) as connection:
        groups = [
            replace(group, exact=exact_scales(connection, group.scan, group.features))
            for group in groups
        ]
        return _query(connection, compile_training_query(groups, as_of))


def _python_feature(
    feature: PythonFeature,
    scan: FactScan,
    label_keys: pa.Table,
    as_of: datetime,
    memory_limit: str | None,
) -> pd.Series:
    """A Python feature, its function called once per entity partition."""
    import pandas as pd

    relations = {LABELS: label_keys}
    if not scan.files:
        relations[empty_source(0)] = empty_facts(scan.schema)
    answers = []
    with _connection(relations, memory_limit) as connection:
        for partition in range(feature.partitions):
            query = compile_window_facts_query(
                scan, feature.window.micros, as_of, partition, feature.partitions
            )
            facts = _query(connection, query).to_pandas()
            if len(facts):
                answers.append(feature.compute(facts, label_keys.num_rows))
    values = pd.concat(answers) if answers else pd.Series(dtype="float64")
    return values.reindex(pd.RangeIndex(label_keys.num_rows))


@contextmanager
def _connection(
    relations: Mapping[str, pa.Table], memory_limit: str | None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with `relations` registered: the process's shared one, or, with a
    `memory_limit` (a database-wide setting), one of its own spilling to a folder of its own."""
    import duckdb

    if memory_limit is None:
        with duck.connection() as shared:
            for name, relation in relations.items():
                shared.register(name, relation)
            yield shared
        return
    with tempfile.TemporaryDirectory(prefix="shipyard-features-") as spill:
        connection = duckdb.connect()
        try:
            try:
                connection.execute("SET temp_directory = ?", [spill])
                # Time zone columns come out in UTC whatever the machine's zone (Ray workers).
                connection.execute("SET TimeZone = 'UTC'")
                if memory_limit is not None:
                    connection.execute("SET memory_limit = ?", [memory_limit])
            except duckdb.Error as exc:
                raise TrainingFrameError(
                    f"cannot set DuckDB's memory limit to {memory_limit!r}: {exc}"
                ) from exc
            for name, relation in relations.items():
                connection.register(name, relation)
            yield connection
        finally:
            connection.close()


def _query(connection: duckdb.DuckDBPyConnection, query: str) -> pa.Table:
    import duckdb

    try:
        return connection.sql(query).to_arrow_table()
    except duckdb.Error as exc:
        raise TrainingFrameError(f"the training-frame query failed: {exc}") from exc


def _attach(labels: pd.DataFrame, columns: dict[str, pd.Series]) -> pd.DataFrame:
    import pandas as pd

    features = pd.concat(columns, axis=1)
    features.index = labels.index
    return pd.concat([labels, features], axis=1)
