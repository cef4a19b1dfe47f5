"""Metadata: what ran, when, how it ended and what it produced, behind small Protocols.

`open_metadata(url)` gives the backend for a URL; callers type against the Protocols of
`contract` (`RunRecorder`, `RunReader`, `RunLister`, `ModelRegistryStore`, `MetadataBackend`)
and receive the frozen records of `records`. Nothing here imports SQLAlchemy: many modules
(the flow layer, the client's types) need only the records and Protocols, and importing the
SQL backend costs a CLI command that never touches the database a good part of its time.
"""

from __future__ import annotations

from shipyard.metadata.contract import (
    MetadataBackend,
    ModelRegistryStore,
    RunLister,
    RunReader,
    RunRecorder,
)
from shipyard.metadata.errors import MetadataIntegrityError
from shipyard.metadata.factory import open_metadata
from shipyard.metadata.records import (
    ArtifactRecord,
    AttemptRecord,
    FinishedTask,
    ForeachFrame,
    RunRecord,
    RunStatus,
    TaskRecord,
    TaskStatus,
)

__all__ = [
    "ArtifactRecord",
    "AttemptRecord",
    "FinishedTask",
    "ForeachFrame",
    "MetadataBackend",
    "MetadataIntegrityError",
    "ModelRegistryStore",
    "RunLister",
    "RunReader",
    "RunRecord",
    "RunRecorder",
    "RunStatus",
    "TaskRecord",
    "TaskStatus",
    "open_metadata",
]
