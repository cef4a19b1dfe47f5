"""`from shipyard import facts`: append-only, bitemporal fact tables on the datastore.

    facts.table("plays", entity="member_id", event_time="ts",
                schema={"member_id": "int64", "ts": "timestamp", "seconds": "double"})
    facts.ingest("plays", frame)                      # pandas, Arrow, or a .parquet/.csv path
    facts.log("plays", {"member_id": 7, "ts": now, "seconds": 31.0})   # buffered
    facts.read("plays", entities=[7], start="2026-01-01", as_of=last_monday)
    facts.scan("plays")                               # the files a feature query reads

Every fact has its event time (when it happened, a declared column) and its `recorded_at`
(when the store took it in, set here: one timestamp per write, UTC, strictly increasing per
table). Writing the same (entity, event time) again restates it: from the new `recorded_at`
on, reads see the new version; a read `as_of` an earlier time still sees the old one.

A write is checked against the schema before anything is stored, its Parquet files are written
under temporary names and renamed (`fact_files`), and then one catalogue commit makes the batch
visible: a reader sees all of a write or none of it. Every function works on the stores of the
configuration in force (`SHIPYARD_DATASTORE`, `SHIPYARD_METADATA`), like `models`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.exceptions import ShipyardError
from shipyard.features.fact_abort import Abort, abort_stale
from shipyard.features.fact_compaction import (
    DEFAULT_GRACE,
    SMALL_BATCH_ROWS,
    Compaction,
)
from shipyard.features.fact_compaction import compact as compact_table
from shipyard.features.fact_log import FactLog, flush_all, log, logger
from shipyard.features.fact_schema import FactSchemaError, conform, normalize_schema
from shipyard.features.restatements import repeats_a_key
from shipyard.features.scan import RECORDED_AT, FactScan
from shipyard.metadata.fact_records import BatchState

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from shipyard.client.context import ClientContext
    from shipyard.features.fact_files import FactFiles
    from shipyard.metadata.contract import FactCatalogStore
    from shipyard.metadata.fact_records import FactBatchRecord, FactTableRecord

__all__ = [
    "RECORDED_AT",
    "Abort",
    "Compaction",
    "FactLog",
    "FactScan",
    "FactSchemaError",
    "FactStore",
    "FactsNotSettled",
    "TableInfo",
    "abort",
    "compact",
    "describe",
    "flush",
    "ingest",
    "list_tables",
    "log",
    "logger",
    "read",
    "refresh",
    "scan",
    "store",
    "store_in",
    "table",
]

#: What `ingest` accepts: a pandas DataFrame, an Arrow table, or a Parquet or CSV file.
Data = Any
#: A moment: an aware datetime, a naive one (taken as UTC), or text such as "2026-01-31".
Moment = datetime | str


class FactsNotSettled(ShipyardError):
    """A read as of a moment while a write recorded before it is still in progress."""


@dataclass(frozen=True)
class TableInfo:
    """A table as `shipyard facts describe` shows it: its declaration and what it holds."""

    table: FactTableRecord
    batches: int
    rows: int
    first_event: datetime | None
    last_event: datetime | None
    last_recorded: datetime | None


class FactStore:
    """The fact tables of one catalogue and one datastore; the module functions use the one
    of the current configuration (`store()`)."""

    def __init__(
        self,
        catalogue: FactCatalogStore,
        files: FactFiles,
        *,
        user: str,
        settle_timeout: float = 60.0,
    ) -> None:
        self.catalogue = catalogue
        self.files = files
        self.user = user
        #: How long a scan as of a moment waits for writes in progress before that moment.
        self.settle_timeout = settle_timeout

    # ----------------------------------------------------------------------- declaring

    def table(
        self,
        name: str,
        *,
        entity: str,
        event_time: str,
        schema: Mapping[str, Any],
        location: str | None = None,
    ) -> FactTableRecord:
        """Declare a table (again: an identical declaration is a no-op); a different one
        under a taken name is refused with what differs."""
        normalized = normalize_schema(name, schema, entity=entity, event_time=event_time)
        # A new external table's files are checked before it is declared, so that files that
        # do not fit leave no table behind.
        files = (
            None
            if location is None or self._declared(name)
            else self._matching(name, location, normalized)
        )
        stored = self.catalogue.declare_table(
            name,
            entity=entity,
            event_time=event_time,
            schema=normalized,
            location=location,
            user=self.user,
        )
        differences = _differences(stored, entity, event_time, normalized, location)
        if differences:
            raise FactSchemaError(
                f"fact table {name!r} is declared already, differently: "
                f"{'; '.join(differences)}. A table's schema does not change; declare a new "
                "table under another name"
            )
        if files is not None:  # a declarer racing this one registers the same files: once
            self._register(name, files)
        return stored

    def refresh(self, name: str) -> FactBatchRecord | None:
        """Register the files of external table `name` that its location matches now and no
        batch holds yet, as one batch recorded now; None if there are none. Refreshes running
        at once register each file once (the catalogue decides, in one transaction).

        The files are checked against the schema first (`FactSchemaError` naming the file and
        the column; nothing registered).
        """
        from shipyard.features.fact_external import check_files, match_files

        declared = self.catalogue.get_table(name)
        if declared.location is None:
            raise FactSchemaError(
                f"fact table {name!r} is stored, not external: there is nothing to refresh "
                "(its facts are written with facts.ingest and facts.log)"
            )
        listed = {path for batch in self.catalogue.list_batches(name) for path in batch.files}
        new = [path for path in match_files(declared.location) if path not in listed]
        if not new:
            return None
        check_files(name, new, declared.schema)
        return self._register(name, new)

    def _declared(self, name: str) -> bool:
        return any(table.name == name for table in self.catalogue.list_tables())

    @staticmethod
    def _matching(name: str, location: str, schema: Mapping[str, str]) -> list[str]:
        from shipyard.features.fact_external import check_files, match_files

        files = match_files(location)
        if not files:
            raise FactSchemaError(f"fact table {name!r}: no Parquet file matches {location}")
        check_files(name, files, schema)
        return files

    def _register(self, name: str, files: list[str]) -> FactBatchRecord | None:
        """Files of an external table (checked already) that no batch lists yet, as one batch
        recorded now; None if another registration listed all of them meanwhile."""
        from shipyard.features.fact_external import row_counts

        return self.catalogue.register_files(name, row_counts(files))

    # ------------------------------------------------------------------------- writing

    def ingest(self, name: str, data: Data) -> FactBatchRecord | None:
        """Append `data` as one batch; None if it has no rows (nothing is recorded then).

        Raises `FactSchemaError` (nothing written) for a wrong or missing column, a value of
        the wrong type, a null entity or event time, or two facts of one entity and event time
        in the same write (one of them would be lost arbitrarily).
        """
        import pyarrow as pa

        declared = _stored(self.catalogue.get_table(name), "ingested into")
        conformed = conform(
            name,
            _to_arrow(data, declared.schema),
            declared.schema,
            entity=declared.entity,
            event_time=declared.event_time,
        )
        if conformed.num_rows == 0:
            return None
        _refuse_duplicates(name, conformed, declared.entity, declared.event_time)
        batch = self.catalogue.begin_batch(name)
        written: list[str] = []
        try:
            stamp = pa.scalar(batch.recorded_at, type=pa.timestamp("us", tz="UTC"))
            stamped = conformed.append_column(
                pa.field(RECORDED_AT, stamp.type), pa.repeat(stamp, conformed.num_rows)
            )
            written = self.files.write(
                name,
                stamped,
                entity=declared.entity,
                sort_by=[declared.entity, declared.event_time, RECORDED_AT],
                stamp=batch.recorded_at,
                one_version_per_key=True,  # `_refuse_duplicates` checked it
            )
            times = stamped.column(declared.event_time)
            return self.catalogue.commit_batch(
                name,
                batch.batch_id,
                files=written,
                row_count=stamped.num_rows,
                min_event_time=_utc(_min_max(times)[0]),
                max_event_time=_utc(_min_max(times)[1]),
            )
        except BaseException:
            self.catalogue.abort_batch(name, batch.batch_id)
            self.files.remove(written)
            raise

    # ------------------------------------------------------------------------- reading

    def scan(self, name: str, as_of: Moment | None = None) -> FactScan:
        """The files of the batches visible `as_of` (None: every committed batch).

        A scan `as_of` a moment is final: when a write recorded at or before it is still in
        progress, the scan waits for it to commit or fail (at most `settle_timeout` seconds,
        then `FactsNotSettled`), so the same `as_of` always lists the same batches.
        """
        declared = self.catalogue.get_table(name)
        moment = None if as_of is None else moment_of(as_of)
        if moment is not None:
            self._settle(name, moment)
        batches = self.catalogue.list_batches(name, as_of=moment)
        external = declared.location is not None
        return FactScan(
            table=name,
            entity=declared.entity,
            event_time=declared.event_time,
            schema=dict(declared.schema),
            files=tuple(self.files.url(path) for batch in batches for path in batch.files),
            as_of=moment,
            registered_at=tuple(
                batch.recorded_at for batch in batches for _ in batch.files if external
            ),
        )

    def _settle(self, name: str, moment: datetime) -> None:
        """Wait until no write recorded at or before `moment` is in progress."""
        deadline = time.monotonic() + self.settle_timeout
        while True:
            pending = self.catalogue.list_batches(name, as_of=moment, states=[BatchState.PENDING])
            if not pending:
                return
            if time.monotonic() >= deadline:
                first = pending[0]
                raise FactsNotSettled(
                    f"fact table {name!r}: batch {first.batch_id}, recorded at "
                    f"{first.recorded_at.isoformat()}, is still being written after "
                    f"{self.settle_timeout:g} s, so a read as of {moment.isoformat()} is not "
                    "final yet; retry, or read as of an earlier moment (if its writer was "
                    f"killed mid-write, give it up with `shipyard facts abort {name}`)"
                )
            time.sleep(0.02)

    def read(
        self,
        name: str,
        entities: Iterable[Any] | None = None,
        *,
        start: Moment | None = None,
        end: Moment | None = None,
        as_of: Moment | None = None,
    ) -> pd.DataFrame:
        """The facts visible `as_of`, of `entities` (all if None), with an event time in
        [start, end), sorted by entity and event time; one row per (entity, event time): the
        version recorded last at or before `as_of`, with its `recorded_at`."""
        from shipyard.features.fact_read import read_scan

        return read_scan(
            self.scan(name, as_of),
            entities=entities,
            start=None if start is None else moment_of(start),
            end=None if end is None else moment_of(end),
        )

    def describe(self, name: str) -> TableInfo:
        """A table's declaration and a summary of its visible batches."""
        declared = self.catalogue.get_table(name)
        batches = self.catalogue.list_batches(name)
        firsts = [b.min_event_time for b in batches if b.min_event_time is not None]
        lasts = [b.max_event_time for b in batches if b.max_event_time is not None]
        return TableInfo(
            table=declared,
            batches=len(batches),
            rows=sum(b.row_count for b in batches),
            first_event=min(firsts, default=None),
            last_event=max(lasts, default=None),
            last_recorded=max((b.last_recorded_at for b in batches), default=None),
        )

    def list_tables(self) -> list[FactTableRecord]:
        """Every declared table, alphabetically."""
        return self.catalogue.list_tables()

    def compact(
        self,
        name: str,
        *,
        small_rows: int = SMALL_BATCH_ROWS,
        grace: timedelta = DEFAULT_GRACE,
    ) -> Compaction:
        """Merge the table's small batches into one without changing any read's answer (see
        `fact_compaction`); safe while writers write."""
        return compact_table(
            self.catalogue,
            self.files,
            _stored(self.catalogue.get_table(name), "compacted"),
            small_rows=small_rows,
            grace=grace,
        )

    def abort(self, name: str, *, older_than: timedelta = DEFAULT_GRACE) -> Abort:
        """Give up the writes begun more than `older_than` ago and never committed (their
        writers died): their batches become ABORTED, so reads as of later moments stop
        waiting for them and they can never become visible, and their files are deleted
        (see `fact_abort`)."""
        return abort_stale(self.catalogue, self.files, self.catalogue.get_table(name), older_than)


def store(*, create: bool = False) -> FactStore:
    """The fact store of the current configuration, over the client's shared stores.

    Reading never creates a metadata store; `create=True` (declaring, writing) may.
    """
    from shipyard.client.context import current_context
    from shipyard.config import Config

    return store_in(current_context(), Config.current().user, create=create)


def store_in(context: ClientContext, user: str, *, create: bool = False) -> FactStore:
    """The fact store over `context`'s stores, writing as `user`: `store()` for the current
    configuration, or one another process opens from the same URLs."""
    from shipyard.features.fact_files import FactFiles

    metadata = context.metadata_for_writing() if create else context.metadata
    return FactStore(metadata.facts, FactFiles(context.datastore_url), user=user)


def table(
    name: str,
    *,
    entity: str,
    event_time: str,
    schema: Mapping[str, Any],
    location: str | None = None,
) -> FactTableRecord:
    """Declare fact table `name` (see `FactStore.table`)."""
    return store(create=True).table(
        name, entity=entity, event_time=event_time, schema=schema, location=location
    )


def ingest(name: str, data: Data) -> FactBatchRecord | None:
    """Append `data` to fact table `name` as one batch (see `FactStore.ingest`)."""
    return store(create=True).ingest(name, data)


def scan(name: str, as_of: Moment | None = None) -> FactScan:
    """The visible files of fact table `name` as of `as_of` (see `FactStore.scan`)."""
    return store().scan(name, as_of)


def read(
    name: str,
    entities: Iterable[Any] | None = None,
    *,
    start: Moment | None = None,
    end: Moment | None = None,
    as_of: Moment | None = None,
) -> pd.DataFrame:
    """The facts of table `name` (see `FactStore.read`)."""
    return store().read(name, entities, start=start, end=end, as_of=as_of)


def describe(name: str) -> TableInfo:
    """A table's declaration and what it holds."""
    return store().describe(name)


def list_tables() -> list[FactTableRecord]:
    """Every declared fact table, alphabetically."""
    return store().list_tables()


def compact(
    name: str, *, small_rows: int = SMALL_BATCH_ROWS, grace: timedelta = DEFAULT_GRACE
) -> Compaction:
    """Merge the small batches of table `name` (see `FactStore.compact`)."""
    return store(create=True).compact(name, small_rows=small_rows, grace=grace)


def abort(name: str, *, older_than: timedelta = DEFAULT_GRACE) -> Abort:
    """Give up the writes of table `name` that never finished (see `FactStore.abort`)."""
    return store(create=True).abort(name, older_than=older_than)


def refresh(name: str) -> FactBatchRecord | None:
    """Register the new files of external table `name` (see `FactStore.refresh`)."""
    return store(create=True).refresh(name)


def flush() -> None:
    """Write what `log` has buffered, for every table, now."""
    flush_all()


def moment_of(value: Moment) -> datetime:
    """`value` as an aware UTC datetime (naive values and text are taken as UTC)."""
    import pandas as pd

    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
    moment: datetime = stamp.to_pydatetime()
    return moment


# ------------------------------------------------------------------------------- helpers


def _stored(declared: FactTableRecord, doing: str) -> FactTableRecord:
    if declared.location is not None:
        raise FactSchemaError(
            f"fact table {declared.name!r} is external (its files stay at {declared.location}) "
            f"and cannot be {doing}; register new files with facts.refresh({declared.name!r})"
        )
    return declared


def _differences(
    stored: FactTableRecord,
    entity: str,
    event_time: str,
    schema: Mapping[str, str],
    location: str | None,
) -> list[str]:
    found = []
    if stored.location != location:

        def where(place: str | None) -> str:
            return "stored by Shipyard" if place is None else f"external over {place}"

        found.append(f"it is {where(stored.location)}, not {where(location)}")
    if stored.entity != entity:
        found.append(f"entity is {stored.entity!r}, not {entity!r}")
    if stored.event_time != event_time:
        found.append(f"event_time is {stored.event_time!r}, not {event_time!r}")
    for column in [*stored.schema, *(c for c in schema if c not in stored.schema)]:
        before, after = stored.schema.get(column), schema.get(column)
        if before == after:
            continue
        if before is None:
            found.append(f"column {column!r} ({after}) is new")
        elif after is None:
            found.append(f"column {column!r} ({before}) is missing")
        else:
            found.append(f"column {column!r} is {before}, not {after}")
    if not found and list(stored.schema) != list(schema):
        found.append(f"the columns are in the order {', '.join(stored.schema)}")
    return found


def _to_arrow(data: Data, schema: Mapping[str, str]) -> pa.Table:
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, str | Path):
        return _read_file(Path(data), schema)
    if isinstance(data, list):
        return pa.Table.from_pylist(data)
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return pa.Table.from_pandas(data, preserve_index=False)
    raise FactSchemaError(
        f"cannot ingest a {type(data).__name__}: give a pandas DataFrame, an Arrow table, "
        "or the path of a .parquet or .csv file"
    )


def _read_file(path: Path, schema: Mapping[str, str]) -> pa.Table:
    """A Parquet file as stored; a CSV file parsed into the declared types where they parse
    (a value that does not stays text, for the schema check to name)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as csv
    import pyarrow.parquet as pq

    from shipyard.features.fact_schema import arrow_schema

    if not path.exists():
        raise FileNotFoundError(f"no file to ingest at {path}")
    if path.suffix == ".parquet":
        return pq.read_table(path)
    if path.suffix != ".csv":
        raise FactSchemaError(f"cannot ingest {path}: only .parquet and .csv files are read")
    types = dict(zip(arrow_schema(schema).names, arrow_schema(schema).types, strict=True))
    try:
        return csv.read_csv(path, convert_options=csv.ConvertOptions(column_types=types))
    except pa.ArrowInvalid:  # a value that does not parse: keep its column as text
        text = csv.read_csv(
            path, convert_options=csv.ConvertOptions(column_types=dict.fromkeys(types, "string"))
        )
    columns = []
    for name in text.column_names:
        try:
            columns.append(
                pc.cast(text.column(name), types[name]) if name in types else text.column(name)
            )
        except pa.ArrowInvalid:
            columns.append(text.column(name))  # the schema check names the value
    return pa.table(columns, names=text.column_names)


def _refuse_duplicates(name: str, data: pa.Table, entity: str, event_time: str) -> None:
    if not repeats_a_key(data, entity, event_time):
        return
    seen: dict[tuple[Any, Any], int] = {}
    for row, key in enumerate(
        zip(data.column(entity).to_pylist(), data.column(event_time).to_pylist(), strict=True)
    ):
        if key in seen:
            raise FactSchemaError(
                f"fact table {name!r}: rows {seen[key]} and {row} are both for {entity}="
                f"{key[0]!r} at {event_time}={key[1]}; one write holds one version of a fact "
                "(restate it in a later write); nothing was written"
            )
        seen[key] = row


def _min_max(column: Any) -> tuple[Any, Any]:
    import pyarrow.compute as pc

    bounds = pc.min_max(column)
    return bounds["min"].as_py(), bounds["max"].as_py()


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)
