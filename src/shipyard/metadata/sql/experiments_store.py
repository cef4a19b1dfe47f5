"""The SQL backend's `ExperimentStore`: experiments and the history of their changes.

The rules that need a transaction are kept here, each checked and applied in one write
transaction with the experiment's row locked (`FOR UPDATE` on PostgreSQL; on SQLite every
write transaction is exclusive already), and each change commits together with its history
entry:

- an experiment changes state only along draft -> running -> stopped;
- only a draft's definition is replaced (a running experiment's cells, allocation, unit and
  salt never change: a change is a new experiment);
- the running experiments of one layer own disjoint slices of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from shipyard.exceptions import ObjectNotFound, ShipyardError
from shipyard.metadata.contract import ExperimentStore
from shipyard.metadata.experiment_records import (
    CellRecord,
    ExperimentAction,
    ExperimentDefinition,
    ExperimentEventRecord,
    ExperimentRecord,
    ExperimentState,
)
from shipyard.metadata.models import Experiment, ExperimentEvent
from shipyard.metadata.sql.database import Database
from shipyard.metadata.sql.statements import dialect_insert

__all__ = ["SQLExperimentStore"]

# Slices of a layer closer than this are taken to touch, not overlap (float shares).
_TOLERANCE = 1e-9


class SQLExperimentStore(ExperimentStore):
    """The experiments' tables in `database`."""

    def __init__(self, database: Database) -> None:
        self._database = database

    # ----------------------------------------------------------------------------- writes

    def create_experiment(self, definition: ExperimentDefinition, user: str) -> ExperimentRecord:
        """Insert a draft unless the name is taken (ON CONFLICT DO NOTHING, and no row comes
        back: also when another process took it a moment ago)."""
        now = datetime.now(UTC)
        with self._database.write() as conn:
            inserted = conn.execute(
                dialect_insert(self._database.dialect, Experiment)
                .on_conflict_do_nothing(index_elements=["name"])
                .values(
                    **_definition_values(definition),
                    state=ExperimentState.DRAFT,
                    layer_offset=None,
                    created_at=now,
                    created_by=user,
                    started_at=None,
                    stopped_at=None,
                )
                .returning(Experiment.name)
            ).first()
            if inserted is None:
                raise ShipyardError(
                    f"an experiment named {definition.name!r} exists already; experiments are "
                    "never renamed or reused: pick another name (see `shipyard experiments list`)"
                )
            _record(
                conn, definition.name, ExperimentAction.CREATED, user, now, _details(definition)
            )
            return _experiment(self._row(conn, definition.name))

    def update_experiment(self, definition: ExperimentDefinition, user: str) -> ExperimentRecord:
        """Replace a draft's definition, recording the new one."""
        now = datetime.now(UTC)
        with self._database.write() as conn:
            row = self._locked(conn, definition.name)
            if row.state != ExperimentState.DRAFT:
                raise ShipyardError(
                    f"experiment {definition.name!r} is {row.state}: only a draft's definition "
                    "changes (a running experiment's cells, allocation, unit and salt are fixed; "
                    "create a new experiment for a new definition)"
                )
            conn.execute(
                update(Experiment)
                .where(Experiment.name == definition.name)
                .values(**_definition_values(definition))
            )
            _record(
                conn, definition.name, ExperimentAction.UPDATED, user, now, _details(definition)
            )
            return _experiment(self._row(conn, definition.name))

    def start_experiment(
        self, name: str, *, versions: Mapping[str, int], offset: float, user: str
    ) -> ExperimentRecord:
        """Draft -> running with the cells' versions, if its layer slice is free."""
        now = datetime.now(UTC)
        with self._database.write() as conn:
            self._lock_layer_of(conn, name)
            row = self._locked(conn, name)
            if row.state != ExperimentState.DRAFT:
                raise ShipyardError(
                    f"experiment {name!r} is {row.state}: only a draft starts (a stopped "
                    "experiment stays stopped; create a new one to run again)"
                )
            cells = [CellRecord(*cell) for cell in row.cells]
            missing = sorted({cell.name for cell in cells} - set(versions))
            if missing:
                raise ShipyardError(f"experiment {name!r}: no version given for cells {missing}")
            if row.layer is not None:
                self._check_slice_free(conn, name, row.layer, offset, row.traffic)
            resolved = [replace(cell, version=int(versions[cell.name])) for cell in cells]
            conn.execute(
                update(Experiment)
                .where(Experiment.name == name)
                .values(
                    state=ExperimentState.RUNNING,
                    cells=[_cell_row(cell) for cell in resolved],
                    layer_offset=offset,
                    started_at=now,
                )
            )
            details = {
                "versions": {cell.name: cell.version for cell in resolved},
                "offset": offset,
            }
            _record(conn, name, ExperimentAction.STARTED, user, now, details)
            return _experiment(self._row(conn, name))

    def stop_experiment(self, name: str, user: str) -> ExperimentRecord:
        """Running -> stopped."""
        now = datetime.now(UTC)
        with self._database.write() as conn:
            row = self._locked(conn, name)
            if row.state != ExperimentState.RUNNING:
                raise ShipyardError(
                    f"experiment {name!r} is {row.state}: only a running experiment stops"
                )
            conn.execute(
                update(Experiment)
                .where(Experiment.name == name)
                .values(state=ExperimentState.STOPPED, stopped_at=now)
            )
            _record(conn, name, ExperimentAction.STOPPED, user, now, {})
            return _experiment(self._row(conn, name))

    # ----------------------------------------------------------------------------- reads

    def get_experiment(self, name: str) -> ExperimentRecord:
        """One experiment; `ObjectNotFound` naming the ones that exist."""
        with self._database.read() as conn:
            return _experiment(self._row(conn, name))

    def list_experiments(
        self, *, state: ExperimentState | None = None, layer: str | None = None
    ) -> list[ExperimentRecord]:
        """Experiments (in `state`, in `layer`, when given), alphabetically."""
        query = select(Experiment.__table__).order_by(Experiment.name)
        if state is not None:
            query = query.where(Experiment.state == state)
        if layer is not None:
            query = query.where(Experiment.layer == layer)
        with self._database.read() as conn:
            return [_experiment(row) for row in conn.execute(query).all()]

    def experiment_history(self, name: str) -> list[ExperimentEventRecord]:
        """Every change of `name`, oldest first."""
        with self._database.read() as conn:
            self._row(conn, name)
            rows = conn.execute(
                select(ExperimentEvent.__table__)
                .where(ExperimentEvent.experiment == name)
                .order_by(ExperimentEvent.id)
            ).all()
        return [
            ExperimentEventRecord(
                experiment=row.experiment,
                action=ExperimentAction(row.action),
                user=row.user,
                at=row.at,
                details=row.details,
            )
            for row in rows
        ]

    # ---------------------------------------------------------------------------- helpers

    def _locked(self, conn: Connection, name: str) -> Row[Any]:
        row = conn.execute(
            select(Experiment.__table__).where(Experiment.name == name).with_for_update()
        ).first()
        if row is None:
            raise ObjectNotFound(_missing(conn, name))
        return row

    @staticmethod
    def _lock_layer_of(conn: Connection, name: str) -> None:
        """Lock every experiment of `name`'s layer, in name order: two experiments of one
        layer starting at once then check for overlap one after the other (and never
        deadlock), each seeing the other's slice once it has committed."""
        layer = conn.scalar(select(Experiment.layer).where(Experiment.name == name))
        if layer is not None:
            conn.execute(
                select(Experiment.name)
                .where(Experiment.layer == layer)
                .order_by(Experiment.name)
                .with_for_update()
            )

    @staticmethod
    def _row(conn: Connection, name: str) -> Row[Any]:
        row = conn.execute(select(Experiment.__table__).where(Experiment.name == name)).first()
        if row is None:
            raise ObjectNotFound(_missing(conn, name))
        return row

    @staticmethod
    def _check_slice_free(
        conn: Connection, name: str, layer: str, offset: float, traffic: float
    ) -> None:
        running = conn.execute(
            select(Experiment.name, Experiment.layer_offset, Experiment.traffic).where(
                Experiment.layer == layer, Experiment.state == ExperimentState.RUNNING
            )
        ).all()
        for other, stored_offset, other_traffic in running:
            other_offset = stored_offset or 0.0
            if (
                offset < other_offset + other_traffic - _TOLERANCE
                and other_offset < offset + traffic - _TOLERANCE
            ):
                raise ShipyardError(
                    f"layer {layer!r} is over-allocated: experiment {name!r} needs "
                    f"{traffic:g} of it from {offset:g}, which overlaps {other!r} "
                    f"({other_traffic:g} from {other_offset:g}); stop an experiment of the "
                    "layer or give this one less traffic"
                )


def _definition_values(definition: ExperimentDefinition) -> dict[str, Any]:
    return {
        "name": definition.name,
        "unit": definition.unit,
        "salt": definition.salt,
        "cells": [_cell_row(cell) for cell in definition.cells],
        "control": definition.control,
        "holdout": definition.holdout,
        "layer": definition.layer,
        "traffic": definition.traffic,
        "description": definition.description,
    }


def _cell_row(cell: CellRecord) -> list[Any]:
    return [cell.name, cell.model, cell.share, cell.version]


def _details(definition: ExperimentDefinition) -> dict[str, Any]:
    details = asdict(definition)
    details["cells"] = {
        cell.name: {"model": cell.model, "share": cell.share} for cell in definition.cells
    }
    return details


def _record(
    conn: Connection,
    name: str,
    action: ExperimentAction,
    user: str,
    at: datetime,
    details: dict[str, Any],
) -> None:
    conn.execute(
        insert(ExperimentEvent).values(
            experiment=name, action=action, user=user, at=at, details=details
        )
    )


def _missing(conn: Connection, name: str) -> str:
    known = list(conn.scalars(select(Experiment.name).order_by(Experiment.name)))
    listing = f"experiments: {', '.join(known)}" if known else "there are no experiments yet"
    return (
        f"no experiment named {name!r}; {listing} (create one with "
        "`shipyard experiments create` or experiments.create(...))"
    )


def _experiment(row: Row[Any]) -> ExperimentRecord:
    definition = ExperimentDefinition(
        name=row.name,
        unit=row.unit,
        salt=row.salt,
        cells=tuple(CellRecord(*cell) for cell in row.cells),
        control=row.control,
        holdout=row.holdout,
        layer=row.layer,
        traffic=row.traffic,
        description=row.description,
    )
    return ExperimentRecord(
        definition=definition,
        state=ExperimentState(row.state),
        offset=row.layer_offset,
        created_at=row.created_at,
        created_by=row.created_by,
        started_at=row.started_at,
        stopped_at=row.stopped_at,
    )
