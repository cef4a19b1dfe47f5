"""Metadata: what ran, when, how it ended and what it produced, kept in an SQL database.

The records are imported eagerly, `MetadataStore` lazily: many modules (the flow layer, the
client's types) need only the records, and importing the store means importing SQLAlchemy,
which costs a CLI command that never touches the database a good part of its time budget.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipyard.lazy import lazy_exports
from shipyard.metadata.records import (
    ArtifactRecord,
    AttemptRecord,
    ForeachFrame,
    RunRecord,
    RunStatus,
    TaskRecord,
    TaskStatus,
)

if TYPE_CHECKING:
    from shipyard.metadata.store import MetadataStore

__all__ = [
    "ArtifactRecord",
    "AttemptRecord",
    "ForeachFrame",
    "MetadataStore",
    "RunRecord",
    "RunStatus",
    "TaskRecord",
    "TaskStatus",
]


__getattr__ = lazy_exports(__name__, {"MetadataStore": "shipyard.metadata.store"})
