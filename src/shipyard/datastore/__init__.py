"""The datastore: content-addressed blobs on any fsspec filesystem, artifacts, code snapshots.

Re-exports load on first use: the flow layer needs only `ArtifactRef`, and importing the
storage machinery (hashing threads, tarfile, fsspec) would slow every `python flow.py show`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipyard.datastore.refs import ArtifactRef
from shipyard.lazy import lazy_exports

if TYPE_CHECKING:
    from shipyard.datastore.artifacts import ArtifactStore, LazyArtifact
    from shipyard.datastore.blobs import BlobStore
    from shipyard.datastore.code import CodePackage, snapshot_code
    from shipyard.datastore.flow_classes import FlowClasses

__all__ = [
    "ArtifactRef",
    "ArtifactStore",
    "BlobStore",
    "CodePackage",
    "FlowClasses",
    "LazyArtifact",
    "snapshot_code",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "ArtifactStore": "shipyard.datastore.artifacts",
        "LazyArtifact": "shipyard.datastore.artifacts",
        "BlobStore": "shipyard.datastore.blobs",
        "CodePackage": "shipyard.datastore.code",
        "snapshot_code": "shipyard.datastore.code",
        "FlowClasses": "shipyard.datastore.flow_classes",
    },
)
