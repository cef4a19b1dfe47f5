"""The SQL backend's `FactCatalogStore`: fact tables and their batches, in the backend's database.

Two rules are enforced here, in SQL, while the table's row is locked (`FOR UPDATE` on
PostgreSQL; on SQLite every write transaction is exclusive already):

- a batch's number and `recorded_at` are allocated in the transaction that creates it:
  numbers count 1, 2, 3... per table, and `recorded_at` is the later of now and one microsecond
  after the table's latest, so it strictly increases per table even when clocks tie;
- a batch changes state only along PENDING -> VISIBLE -> REPLACED (or PENDING -> ABORTED), and
  a compaction's swap happens only if every batch it merged is still VISIBLE.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from shipyard.exceptions import ObjectNotFound, ShipyardError
from shipyard.metadata.contract import FactCatalogStore
from shipyard.metadata.fact_records import BatchState, FactBatchRecord, FactTableRecord
from shipyard.metadata.models import FactBatch, FactTable
from shipyard.metadata.sql.database import Database
from shipyard.metadata.sql.statements import dialect_insert

__all__ = ["SQLFactCatalogStore"]

_MICROSECOND = timedelta(microseconds=1)


class SQLFactCatalogStore(FactCatalogStore):
    """The fact catalogue's tables in `database`."""

    def __init__(self, database: Database) -> None:
        self._database = database

    # ----------------------------------------------------------------------------- tables

    def declare_table(
        self,
        name: str,
        *,
        entity: str,
        event_time: str,
        schema: Mapping[str, str],
        location: str | None,
        user: str,
    ) -> FactTableRecord:
        """Insert the declaration unless `name` is taken; return what is stored under `name`.

        Two processes declaring the same table at once both succeed: the loser's insert is
        absorbed by ON CONFLICT DO NOTHING and it reads the winner's row.
        """
        with self._database.write() as conn:
            conn.execute(
                dialect_insert(self._database.dialect, FactTable)
                .on_conflict_do_nothing(index_elements=["name"])
                .values(
                    name=name,
                    entity=entity,
                    event_time=event_time,
                    schema=[[column, kind] for column, kind in schema.items()],  # keeps the order
                    location=location,
                    created_at=datetime.now(UTC),
                    created_by=user,
                )
            )
            row = conn.execute(select(FactTable.__table__).where(FactTable.name == name)).one()
        return _table_record(row)

    def get_table(self, name: str) -> FactTableRecord:
        """One table; raises `ObjectNotFound` naming the tables that exist."""
        with self._database.read() as conn:
            row = conn.execute(select(FactTable.__table__).where(FactTable.name == name)).first()
            if row is None:
                raise ObjectNotFound(_missing_table(conn, name))
        return _table_record(row)

    def list_tables(self) -> list[FactTableRecord]:
        """Every declared table, alphabetically."""
        with self._database.read() as conn:
            rows = conn.execute(select(FactTable.__table__).order_by(FactTable.name)).all()
        return [_table_record(row) for row in rows]

    # ---------------------------------------------------------------------------- batches

    def begin_batch(self, table: str, *, at_least: datetime | None = None) -> FactBatchRecord:
        """A PENDING batch with the next number and a `recorded_at` after every earlier one."""
        with self._database.write() as conn:
            self._lock_table(conn, table)
            values = self._new_batch(conn, table, at_least)
            conn.execute(insert(FactBatch).values(values))
        return _batch_record(values)

    def register_files(self, table: str, files: Mapping[str, int]) -> FactBatchRecord | None:
        """A VISIBLE batch of the files no batch lists yet, decided while the table is locked."""
        with self._database.write() as conn:
            self._lock_table(conn, table)
            listed = {
                path
                for listing in conn.scalars(
                    select(FactBatch.files).where(FactBatch.table_name == table)
                )
                for path in listing
            }
            new = [path for path in files if path not in listed]
            if not new:
                return None
            values = self._new_batch(conn, table, None)
            values.update(
                state=BatchState.VISIBLE, files=new, row_count=sum(files[path] for path in new)
            )
            conn.execute(insert(FactBatch).values(values))
        return _batch_record(values)

    def commit_batch(
        self,
        table: str,
        batch_id: int,
        *,
        files: Sequence[str],
        row_count: int,
        min_event_time: datetime | None,
        max_event_time: datetime | None,
    ) -> FactBatchRecord:
        """PENDING -> VISIBLE with the batch's files, in one transaction."""
        with self._database.write() as conn:
            done = conn.execute(
                update(FactBatch)
                .where(
                    FactBatch.table_name == table,
                    FactBatch.batch_id == batch_id,
                    FactBatch.state == BatchState.PENDING,
                )
                .values(
                    state=BatchState.VISIBLE,
                    files=list(files),
                    row_count=row_count,
                    min_event_time=min_event_time,
                    max_event_time=max_event_time,
                )
            )
            row = self._batch_row(conn, table, batch_id)
            if done.rowcount == 0:
                raise ShipyardError(
                    f"cannot commit batch {batch_id} of fact table {table!r}: it is "
                    f"{row['state']}, not pending"
                )
        return _batch_record(row)

    def abort_batch(self, table: str, batch_id: int) -> None:
        """PENDING -> ABORTED; a batch in any other state is left as it is."""
        with self._database.write() as conn:
            conn.execute(
                update(FactBatch)
                .where(
                    FactBatch.table_name == table,
                    FactBatch.batch_id == batch_id,
                    FactBatch.state == BatchState.PENDING,
                )
                .values(state=BatchState.ABORTED)
            )

    def replace_batches(
        self,
        table: str,
        replaced: Sequence[int],
        *,
        files: Sequence[str],
        row_count: int,
        min_event_time: datetime | None,
        max_event_time: datetime | None,
    ) -> FactBatchRecord:
        """Swap VISIBLE batches for one new VISIBLE batch with their facts, atomically.

        The new batch spans the recorded times of the ones it replaces, so an `as_of` read
        lists it exactly when it would have listed one of them (and filters rows by their own
        recorded_at, which compaction keeps).
        """
        wanted = sorted(set(replaced))
        with self._database.write() as conn:
            self._lock_table(conn, table)
            rows = conn.execute(
                select(FactBatch.__table__).where(
                    FactBatch.table_name == table,
                    FactBatch.batch_id.in_(wanted),
                    FactBatch.state == BatchState.VISIBLE,
                )
            ).all()
            if len(rows) != len(wanted) or not wanted:
                gone = sorted(set(wanted) - {row.batch_id for row in rows})
                raise ShipyardError(
                    f"cannot replace batches {wanted} of fact table {table!r}: batches {gone} "
                    "are no longer visible (another compaction merged them); compact again"
                )
            last_id = conn.scalar(
                select(func.max(FactBatch.batch_id)).where(FactBatch.table_name == table)
            )
            values: dict[str, Any] = {
                "table_name": table,
                "batch_id": (last_id or 0) + 1,
                "state": BatchState.VISIBLE,
                "recorded_at": min(_aware(row.recorded_at) for row in rows),
                "last_recorded_at": max(_aware(row.last_recorded_at) for row in rows),
                "files": list(files),
                "row_count": row_count,
                "min_event_time": min_event_time,
                "max_event_time": max_event_time,
                "replaced_by": None,
                "replaced_at": None,
            }
            conn.execute(insert(FactBatch).values(values))
            conn.execute(
                update(FactBatch)
                .where(FactBatch.table_name == table, FactBatch.batch_id.in_(wanted))
                .values(
                    state=BatchState.REPLACED,
                    replaced_by=values["batch_id"],
                    replaced_at=datetime.now(UTC),
                )
            )
        return _batch_record(values)

    def forget_batches(self, table: str, batch_ids: Sequence[int]) -> int:
        """Delete the rows of REPLACED or ABORTED batches (their files are gone); return how
        many. A batch in another state is never deleted."""
        with self._database.write() as conn:
            done = conn.execute(
                delete(FactBatch).where(
                    FactBatch.table_name == table,
                    FactBatch.batch_id.in_(list(batch_ids)),
                    FactBatch.state.in_([BatchState.REPLACED, BatchState.ABORTED]),
                )
            )
        return int(done.rowcount)

    def list_batches(
        self,
        table: str,
        *,
        as_of: datetime | None = None,
        states: Iterable[BatchState] | None = None,
    ) -> list[FactBatchRecord]:
        """The table's batches in `states` (default: VISIBLE), oldest first."""
        wanted = [BatchState.VISIBLE] if states is None else list(states)
        query = select(FactBatch.__table__).where(
            FactBatch.table_name == table, FactBatch.state.in_(wanted)
        )
        if as_of is not None:
            query = query.where(FactBatch.recorded_at <= as_of)
        with self._database.read() as conn:
            rows = conn.execute(query.order_by(FactBatch.batch_id)).all()
            if not rows:
                self._require_table(conn, table)
        return [_batch_record(row._mapping) for row in rows]

    # ---------------------------------------------------------------------------- helpers

    @staticmethod
    def _new_batch(conn: Connection, table: str, at_least: datetime | None) -> dict[str, Any]:
        """The row of a new PENDING batch: the next number, and a `recorded_at` that is the
        later of now (or `at_least`) and a microsecond after the table's latest. The caller
        holds the table's lock."""
        last_id, last_recorded = conn.execute(
            select(func.max(FactBatch.batch_id), func.max(FactBatch.last_recorded_at)).where(
                FactBatch.table_name == table
            )
        ).one()
        recorded_at = max(datetime.now(UTC), at_least or datetime.min.replace(tzinfo=UTC))
        if last_recorded is not None:
            recorded_at = max(recorded_at, _aware(last_recorded) + _MICROSECOND)
        return {
            "table_name": table,
            "batch_id": (last_id or 0) + 1,
            "state": BatchState.PENDING,
            "recorded_at": recorded_at,
            "last_recorded_at": recorded_at,
            "files": [],
            "row_count": 0,
            "min_event_time": None,
            "max_event_time": None,
            "replaced_by": None,
            "replaced_at": None,
        }

    def _lock_table(self, conn: Connection, table: str) -> None:
        """Hold the table's row lock until the transaction ends (raises if there is none)."""
        found = conn.scalar(select(FactTable.name).where(FactTable.name == table).with_for_update())
        if found is None:
            raise ObjectNotFound(_missing_table(conn, table))

    def _require_table(self, conn: Connection, table: str) -> None:
        if conn.scalar(select(FactTable.name).where(FactTable.name == table)) is None:
            raise ObjectNotFound(_missing_table(conn, table))

    @staticmethod
    def _batch_row(conn: Connection, table: str, batch_id: int) -> Mapping[Any, Any]:
        row = conn.execute(
            select(FactBatch.__table__).where(
                FactBatch.table_name == table, FactBatch.batch_id == batch_id
            )
        ).first()
        if row is None:
            raise ObjectNotFound(f"fact table {table!r} has no batch {batch_id}")
        return row._mapping


def _aware(value: datetime | str) -> datetime:
    """Aggregates (max) bypass the column type on SQLite and come back naive: they are UTC."""
    if isinstance(value, str):  # SQLite returns an aggregate of a DATETIME column as text
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _missing_table(conn: Connection, name: str) -> str:
    known = list(conn.scalars(select(FactTable.name).order_by(FactTable.name)))
    listing = f"declared tables: {', '.join(known)}" if known else "no fact table is declared"
    return (
        f"fact table {name!r} is not declared; {listing} "
        "(declare one with facts.table(name, entity=..., event_time=..., schema=...))"
    )


def _table_record(row: Row[Any]) -> FactTableRecord:
    return FactTableRecord(
        name=row.name,
        entity=row.entity,
        event_time=row.event_time,
        schema={column: kind for column, kind in row.schema},
        location=row.location,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def _batch_record(row: Mapping[Any, Any]) -> FactBatchRecord:
    return FactBatchRecord(
        table=row["table_name"],
        batch_id=row["batch_id"],
        state=BatchState(row["state"]),
        recorded_at=row["recorded_at"],
        last_recorded_at=row["last_recorded_at"],
        files=tuple(row["files"]),
        row_count=row["row_count"],
        min_event_time=row["min_event_time"],
        max_event_time=row["max_event_time"],
        replaced_by=row["replaced_by"],
        replaced_at=row["replaced_at"],
    )
