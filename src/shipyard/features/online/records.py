"""What an online store keeps about each feature set version besides its vectors.

Per version: how to read its vectors (the feature columns, their types and the empty value a
training frame gives a label without facts) and its materialization watermark, the moment
the last complete materialization computed every entity as of. An incremental
materialization starts from the watermark, `shipyard features status` reports it, and a
killed run leaves it where it was (so the next run redoes what the killed one did).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

__all__ = ["FeatureColumn", "OnlineVersion"]


@dataclass(frozen=True)
class FeatureColumn:
    """One feature of a vector: its name, its Arrow type name, and its value for an entity
    without facts (0 for counts, else None)."""

    name: str
    type: str
    empty: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "empty": self.empty}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureColumn:
        return cls(data["name"], data["type"], data["empty"])


@dataclass(frozen=True)
class OnlineVersion:
    """A feature set version as an online store holds it."""

    feature_set: str
    version: str
    #: The entity column's name and Arrow type name (how ids are keyed).
    entity: str
    entity_type: str
    tables: tuple[str, ...]
    columns: tuple[FeatureColumn, ...]
    #: Every stored vector is the entity's value as of this moment or, for an entity no fact
    #: changed since, an earlier one with the same value. None until a run completes.
    watermark: datetime | None = None
    #: When the last complete run finished, whether it was full, and how many vectors it wrote.
    finished_at: datetime | None = None
    full: bool = False
    written: int = 0

    def completed(
        self, watermark: datetime, finished_at: datetime, *, full: bool, written: int
    ) -> OnlineVersion:
        """This version after a run that computed as of `watermark` completed."""
        return replace(
            self, watermark=watermark, finished_at=finished_at, full=full, written=written
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "feature_set": self.feature_set,
            "version": self.version,
            "entity": self.entity,
            "entity_type": self.entity_type,
            "tables": list(self.tables),
            "columns": [column.to_json() for column in self.columns],
            "watermark": _text(self.watermark),
            "finished_at": _text(self.finished_at),
            "full": self.full,
            "written": self.written,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OnlineVersion:
        return cls(
            feature_set=data["feature_set"],
            version=data["version"],
            entity=data["entity"],
            entity_type=data["entity_type"],
            tables=tuple(data["tables"]),
            columns=tuple(FeatureColumn.from_json(c) for c in data["columns"]),
            watermark=_moment(data["watermark"]),
            finished_at=_moment(data["finished_at"]),
            full=data["full"],
            written=data["written"],
        )


def _text(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
