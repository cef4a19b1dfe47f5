"""Metadata: what ran, when, how it ended and what it produced, behind small Protocols.

`open_metadata(url)` gives the backend for a URL; callers type against the Protocols of
`contract` (`RunRecorder`, `RunReader`, `RunLister`, `ModelRegistryStore`, `FactCatalogStore`,
`ExperimentStore`, `MetadataBackend`)
and receive the frozen records of `records`. The records are imported eagerly, the rest lazily:
many modules (the flow layer, the client's types) need only the records, and every module
costs start-up time. Nothing here imports SQLAlchemy, which costs a CLI command that never
touches the database a good part of its time; only opening the SQL backend does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipyard.lazy import lazy_exports
from shipyard.metadata.records import (
    ArtifactRecord,
    AttemptRecord,
    FinishedTask,
    ForeachFrame,
    RunRecord,
    RunStatus,
    StartedTask,
    TaskRecord,
    TaskStatus,
)

if TYPE_CHECKING:
    from shipyard.metadata.contract import (
        ExperimentStore,
        FactCatalogStore,
        MetadataBackend,
        ModelRegistryStore,
        RunLister,
        RunReader,
        RunRecorder,
    )
    from shipyard.metadata.errors import (
        MetadataDamaged,
        MetadataIntegrityError,
        MetadataNotFound,
        MetadataUnavailable,
    )
    from shipyard.metadata.factory import open_metadata, open_metadata_for_writing

__all__ = [
    "ArtifactRecord",
    "AttemptRecord",
    "ExperimentStore",
    "FactCatalogStore",
    "FinishedTask",
    "ForeachFrame",
    "MetadataBackend",
    "MetadataDamaged",
    "MetadataIntegrityError",
    "MetadataNotFound",
    "MetadataUnavailable",
    "ModelRegistryStore",
    "RunLister",
    "RunReader",
    "RunRecord",
    "RunRecorder",
    "RunStatus",
    "StartedTask",
    "TaskRecord",
    "TaskStatus",
    "open_metadata",
    "open_metadata_for_writing",
]


__getattr__ = lazy_exports(
    __name__,
    {
        **dict.fromkeys(
            (
                "ExperimentStore",
                "FactCatalogStore",
                "MetadataBackend",
                "ModelRegistryStore",
                "RunLister",
                "RunReader",
                "RunRecorder",
            ),
            "shipyard.metadata.contract",
        ),
        **dict.fromkeys(
            (
                "MetadataDamaged",
                "MetadataIntegrityError",
                "MetadataNotFound",
                "MetadataUnavailable",
            ),
            "shipyard.metadata.errors",
        ),
        "open_metadata": "shipyard.metadata.factory",
        "open_metadata_for_writing": "shipyard.metadata.factory",
    },
)
