"""The SQL backend's `ModelRegistryStore`: registered models, versions, aliases, alias history.

`SQLModelRegistryStore` works in the backend's `Database`, so the registry lives in the same
database as the runs it points at and every write has the same guarantees as the run records
(BEGIN IMMEDIATE on SQLite, fork checks). Three rules are enforced here, in SQL:

- version numbers are 1, 2, 3... per model, allocated inside the inserting transaction while
  the model's row is locked, so concurrent registrations never get the same number;
- a version is immutable: there is no statement that changes its payload or lineage, only
  its description and tags;
- an alias move and the event recording it commit together or not at all.

Reads return the frozen records of `metadata.registry_records`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from shipyard.exceptions import ObjectNotFound, ShipyardError
from shipyard.metadata.contract import ModelRegistryStore
from shipyard.metadata.models import ModelAlias, ModelAliasEvent, ModelVersion, RegisteredModel
from shipyard.metadata.registry_records import (
    AliasEventRecord,
    LineageRecord,
    ModelRecord,
    ModelVersionRecord,
)
from shipyard.metadata.sql.database import Database
from shipyard.metadata.sql.statements import dialect_insert

__all__ = ["SQLModelRegistryStore"]


class SQLModelRegistryStore(ModelRegistryStore):
    """The registry's tables in `database`."""

    def __init__(self, database: Database) -> None:
        self._database = database

    # ----------------------------------------------------------------------------- writes

    def create_version(
        self,
        model_name: str,
        *,
        user: str,
        flavor: str,
        payload_sha256: str,
        payload_size: int,
        signature: dict[str, Any] | None,
        metrics: Mapping[str, float],
        description: str,
        tags: Mapping[str, str],
        lineage: LineageRecord | None,
        environment: Mapping[str, Any] | None = None,
    ) -> ModelVersionRecord:
        """Insert the next version of `model_name` (creating the model on first use).

        The number is max+1 read while the model's row is locked (`FOR UPDATE` on PostgreSQL;
        on SQLite the write transaction is exclusive already), so two processes registering at
        once get consecutive numbers rather than a conflict.
        """
        now = _now()
        with self._database.write() as conn:
            self._lock_model(conn, model_name, user, now)
            latest = conn.scalar(
                select(func.max(ModelVersion.version)).where(ModelVersion.model_name == model_name)
            )
            version = (latest or 0) + 1
            values: dict[str, Any] = {
                "model_name": model_name,
                "version": version,
                "created_at": now,
                "user": user,
                "flavor": flavor,
                "payload_sha256": payload_sha256,
                "payload_size": payload_size,
                "signature": signature,
                "metrics": dict(metrics),
                "description": description,
                "tags": dict(tags),
                "environment": dict(environment) if environment is not None else None,
                **_lineage_columns(lineage),
            }
            conn.execute(insert(ModelVersion).values(values))
        return _version_record(_AttrDict(values))

    def set_model_description(self, model_name: str, description: str) -> None:
        """Replace a model's free-text description."""
        self._update_model(model_name, description=description)

    def set_model_tags(self, model_name: str, tags: Mapping[str, str]) -> None:
        """Replace a model's tags."""
        self._update_model(model_name, tags=dict(tags))

    def set_version_description(self, model_name: str, version: int, description: str) -> None:
        """Replace a version's description (one of the two things a version lets change)."""
        self._update_version(model_name, version, description=description)

    def set_version_tags(self, model_name: str, version: int, tags: Mapping[str, str]) -> None:
        """Replace a version's tags (the other thing a version lets change)."""
        self._update_version(model_name, version, tags=dict(tags))

    def set_alias(self, model_name: str, alias: str, version: int, user: str) -> int | None:
        """Point `alias` at `version` and record the move; return the version it left.

        Move and event are one transaction: a reader never sees an alias moved without its
        history, nor history of a move that did not happen.
        """
        now = _now()
        with self._database.write() as conn:
            self._require_version(conn, model_name, version)
            previous = self._point_alias(conn, model_name, alias, version, user, now)
        return previous

    def delete_alias(self, model_name: str, alias: str, user: str) -> int | None:
        """Remove `alias` (recording it in its history); return the version it pointed at.

        An alias that is not set is left alone, with nothing recorded, and None is returned:
        removing what is not there is not a move.
        """
        now = _now()
        with self._database.write() as conn:
            self._require_model(conn, model_name)
            previous = self._alias_version(conn, model_name, alias)
            if previous is None:
                return None
            conn.execute(
                delete(ModelAlias).where(
                    ModelAlias.model_name == model_name, ModelAlias.alias == alias
                )
            )
            self._record_event(conn, model_name, alias, previous, None, user, now)
        return previous

    def rollback_alias(self, model_name: str, alias: str, user: str) -> int:
        """Move `alias` back to where its last move took it from; return that version.

        Reading the last event and moving happen in one transaction, so two rollbacks at once
        cannot both undo the same move.
        """
        now = _now()
        with self._database.write() as conn:
            self._require_model(conn, model_name)
            last = conn.execute(
                select(ModelAliasEvent.from_version, ModelAliasEvent.to_version)
                .where(ModelAliasEvent.model_name == model_name, ModelAliasEvent.alias == alias)
                .order_by(ModelAliasEvent.id.desc())
                .limit(1)
            ).first()
            if last is None:
                raise ObjectNotFound(_missing_alias(model_name, alias))
            if last.from_version is None:
                raise ShipyardError(
                    f"cannot roll back alias {alias!r} of model {model_name!r}: its last move "
                    f"created it at version {last.to_version}, so there is no earlier version "
                    f"to go back to; use `shipyard models alias {model_name} {alias} VERSION`"
                )
            target = int(last.from_version)
            self._point_alias(conn, model_name, alias, target, user, now)
        return target

    def _point_alias(
        self, conn: Connection, model_name: str, alias: str, version: int, user: str, now: datetime
    ) -> int | None:
        """Create or move `alias` to `version` and record the move; return where it was.

        Pointing an alias where it already points changes nothing and records nothing, so that
        a rollback never "undoes" a move that did not happen.
        """
        previous = self._alias_version(conn, model_name, alias)
        if previous == version:
            return previous
        if previous is None:
            conn.execute(
                insert(ModelAlias).values(
                    model_name=model_name,
                    alias=alias,
                    version=version,
                    updated_at=now,
                    updated_by=user,
                )
            )
        else:
            conn.execute(
                update(ModelAlias)
                .where(ModelAlias.model_name == model_name, ModelAlias.alias == alias)
                .values(version=version, updated_at=now, updated_by=user)
            )
        self._record_event(conn, model_name, alias, previous, version, user, now)
        return previous

    # ------------------------------------------------------------------------------ reads

    def get_version(self, model_name: str, version: int) -> ModelVersionRecord:
        """One version; raises `ObjectNotFound` naming the versions that exist."""
        with self._database.read() as conn:
            row = conn.execute(
                select(ModelVersion.__table__).where(
                    ModelVersion.model_name == model_name, ModelVersion.version == version
                )
            ).first()
            if row is None:
                self._require_model(conn, model_name)
                raise ObjectNotFound(_missing_version(conn, model_name, version))
        return _version_record(row)

    def latest_version(self, model_name: str) -> ModelVersionRecord:
        """The newest version of a model."""
        with self._database.read() as conn:
            self._require_model(conn, model_name)
            row = conn.execute(
                select(ModelVersion.__table__)
                .where(ModelVersion.model_name == model_name)
                .order_by(ModelVersion.version.desc())
                .limit(1)
            ).first()
        if row is None:  # a model row is only ever created with its first version
            raise ObjectNotFound(f"model {model_name!r} has no versions")
        return _version_record(row)

    def alias_version(self, model_name: str, alias: str) -> int:
        """The version `alias` points at; raises `ObjectNotFound` listing the model's aliases."""
        with self._database.read() as conn:
            self._require_model(conn, model_name)
            version = self._alias_version(conn, model_name, alias)
            if version is None:
                known = sorted(self._aliases(conn, model_name))
                listing = f"its aliases are: {', '.join(known)}" if known else "it has no aliases"
                raise ObjectNotFound(f"{_missing_alias(model_name, alias)}; {listing}")
        return version

    def list_versions(self, model_name: str) -> list[ModelVersionRecord]:
        """Every version of a model, oldest first."""
        with self._database.read() as conn:
            self._require_model(conn, model_name)
            rows = conn.execute(
                select(ModelVersion.__table__)
                .where(ModelVersion.model_name == model_name)
                .order_by(ModelVersion.version)
            ).all()
        return [_version_record(row) for row in rows]

    def versions_of_run(self, flow_name: str, run_id: str) -> list[ModelVersionRecord]:
        """The versions registered from one run, in registration order."""
        with self._database.read() as conn:
            rows = conn.execute(
                select(ModelVersion.__table__)
                .where(ModelVersion.flow_name == flow_name, ModelVersion.run_id == str(run_id))
                .order_by(ModelVersion.created_at, ModelVersion.model_name, ModelVersion.version)
            ).all()
        return [_version_record(row) for row in rows]

    def get_model(self, model_name: str) -> ModelRecord:
        """One registered model with its aliases and newest version."""
        with self._database.read() as conn:
            row = conn.execute(
                select(RegisteredModel.__table__).where(RegisteredModel.name == model_name)
            ).first()
            if row is None:
                raise ObjectNotFound(_missing_model(conn, model_name))
            return self._model_record(conn, row)

    def list_models(self) -> list[ModelRecord]:
        """Every registered model, alphabetically."""
        with self._database.read() as conn:
            rows = conn.execute(
                select(RegisteredModel.__table__).order_by(RegisteredModel.name)
            ).all()
            return [self._model_record(conn, row) for row in rows]

    def alias_history(self, model_name: str, alias: str) -> list[AliasEventRecord]:
        """Every move of `alias`, oldest first."""
        with self._database.read() as conn:
            self._require_model(conn, model_name)
            rows = conn.execute(
                select(ModelAliasEvent.__table__)
                .where(ModelAliasEvent.model_name == model_name, ModelAliasEvent.alias == alias)
                .order_by(ModelAliasEvent.id)
            ).all()
        return [
            AliasEventRecord(
                model_name=row.model_name,
                alias=row.alias,
                from_version=row.from_version,
                to_version=row.to_version,
                user=row.user,
                at=row.at,
            )
            for row in rows
        ]

    def payload_hashes(self) -> set[str]:
        """The blob hashes of every version's payload (what garbage collection must keep)."""
        with self._database.read() as conn:
            return set(conn.scalars(select(ModelVersion.payload_sha256)))

    # ---------------------------------------------------------------------------- helpers

    def _lock_model(self, conn: Connection, model_name: str, user: str, now: datetime) -> None:
        """Create the model row if needed and hold its lock until the transaction ends."""
        exists = conn.scalar(
            select(RegisteredModel.name).where(RegisteredModel.name == model_name).with_for_update()
        )
        if exists is not None:
            return
        # Two first registrations may race to create the row: the loser waits on the winner's
        # uncommitted insert and then finds the key taken, which ON CONFLICT DO NOTHING absorbs.
        conn.execute(
            dialect_insert(self._database.dialect, RegisteredModel)
            .on_conflict_do_nothing(index_elements=["name"])
            .values(name=model_name, created_at=now, user=user, description="", tags={})
        )
        conn.scalar(
            select(RegisteredModel.name).where(RegisteredModel.name == model_name).with_for_update()
        )

    def _update_model(self, model_name: str, **values: Any) -> None:
        with self._database.write() as conn:
            done = conn.execute(
                update(RegisteredModel).where(RegisteredModel.name == model_name).values(**values)
            )
            if done.rowcount == 0:
                raise ObjectNotFound(_missing_model(conn, model_name))

    def _update_version(self, model_name: str, version: int, **values: Any) -> None:
        with self._database.write() as conn:
            done = conn.execute(
                update(ModelVersion)
                .where(ModelVersion.model_name == model_name, ModelVersion.version == version)
                .values(**values)
            )
            if done.rowcount == 0:
                self._require_model(conn, model_name)
                raise ObjectNotFound(_missing_version(conn, model_name, version))

    def _require_model(self, conn: Connection, model_name: str) -> None:
        found = conn.scalar(select(RegisteredModel.name).where(RegisteredModel.name == model_name))
        if found is None:
            raise ObjectNotFound(_missing_model(conn, model_name))

    def _require_version(self, conn: Connection, model_name: str, version: int) -> None:
        found = conn.scalar(
            select(ModelVersion.version).where(
                ModelVersion.model_name == model_name, ModelVersion.version == version
            )
        )
        if found is None:
            self._require_model(conn, model_name)
            raise ObjectNotFound(_missing_version(conn, model_name, version))

    @staticmethod
    def _alias_version(conn: Connection, model_name: str, alias: str) -> int | None:
        return conn.scalar(
            select(ModelAlias.version).where(
                ModelAlias.model_name == model_name, ModelAlias.alias == alias
            )
        )

    @staticmethod
    def _aliases(conn: Connection, model_name: str) -> dict[str, int]:
        rows = conn.execute(
            select(ModelAlias.alias, ModelAlias.version).where(ModelAlias.model_name == model_name)
        )
        return {alias: version for alias, version in rows}

    @staticmethod
    def _record_event(
        conn: Connection,
        model_name: str,
        alias: str,
        from_version: int | None,
        to_version: int | None,
        user: str,
        at: datetime,
    ) -> None:
        conn.execute(
            insert(ModelAliasEvent).values(
                model_name=model_name,
                alias=alias,
                from_version=from_version,
                to_version=to_version,
                user=user,
                at=at,
            )
        )

    def _model_record(self, conn: Connection, row: Row[Any]) -> ModelRecord:
        latest = conn.scalar(
            select(func.max(ModelVersion.version)).where(ModelVersion.model_name == row.name)
        )
        return ModelRecord(
            name=row.name,
            created_at=row.created_at,
            user=row.user,
            description=row.description,
            tags=dict(row.tags),
            latest_version=latest,
            aliases=self._aliases(conn, row.name),
        )


# ------------------------------------------------------------------------------- helpers


class _AttrDict(dict[str, Any]):
    """Inserted values read like a result row, so one function builds records from both."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _now() -> datetime:
    return datetime.now(UTC)


def _lineage_columns(lineage: LineageRecord | None) -> dict[str, Any]:
    if lineage is None:
        return dict.fromkeys(
            (
                "flow_name",
                "run_id",
                "step_name",
                "task_id",
                "artifact_name",
                "artifact_sha256",
                "parameters",
                "code_hash",
            )
        )
    return {
        "flow_name": lineage.flow_name,
        "run_id": str(lineage.run_id),
        "step_name": lineage.step_name,
        "task_id": str(lineage.task_id),
        "artifact_name": lineage.artifact_name,
        "artifact_sha256": lineage.artifact_sha256,
        "parameters": dict(lineage.parameters),
        "code_hash": lineage.code_hash,
    }


def _version_record(row: Any) -> ModelVersionRecord:
    lineage = None
    if row.flow_name is not None:
        lineage = LineageRecord(
            flow_name=row.flow_name,
            run_id=row.run_id,
            step_name=row.step_name,
            task_id=row.task_id,
            artifact_name=row.artifact_name,
            artifact_sha256=row.artifact_sha256,
            parameters=dict(row.parameters or {}),
            code_hash=row.code_hash,
        )
    return ModelVersionRecord(
        model_name=row.model_name,
        version=int(row.version),
        created_at=row.created_at,
        user=row.user,
        flavor=row.flavor,
        payload_sha256=row.payload_sha256,
        payload_size=int(row.payload_size),
        signature=row.signature,
        metrics=dict(row.metrics),
        description=row.description,
        tags=dict(row.tags),
        lineage=lineage,
        environment=row.environment,
    )


def _missing_model(conn: Connection, model_name: str) -> str:
    known = list(conn.scalars(select(RegisteredModel.name).order_by(RegisteredModel.name)))
    listing = f"registered models: {', '.join(known)}" if known else "no model is registered yet"
    return f"model {model_name!r} is not registered; {listing}"


def _missing_version(conn: Connection, model_name: str, version: int) -> str:
    versions = list(
        conn.scalars(
            select(ModelVersion.version)
            .where(ModelVersion.model_name == model_name)
            .order_by(ModelVersion.version)
        )
    )
    return (
        f"model {model_name!r} has no version {version}; its versions are "
        f"{_ranges(versions) or 'none'}"
    )


def _missing_alias(model_name: str, alias: str) -> str:
    return f"model {model_name!r} has no alias {alias!r}"


def _ranges(numbers: Iterable[int]) -> str:
    """`1-4, 7`: a readable summary of version numbers."""
    parts: list[str] = []
    ordered = sorted(numbers)
    start = prev = None
    for n in [*ordered, None]:
        if start is None:
            start = prev = n
            continue
        if n is not None and prev is not None and n == prev + 1:
            prev = n
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = n
    return ", ".join(parts)
