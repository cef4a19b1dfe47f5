"""The datastore: content-addressed blobs on any fsspec filesystem, artifacts, code snapshots."""

from __future__ import annotations

from shipyard.datastore.artifacts import ArtifactStore, LazyArtifact
from shipyard.datastore.blobs import BlobStore
from shipyard.datastore.code import CodePackage, snapshot_code
from shipyard.datastore.refs import ArtifactRef

__all__ = [
    "ArtifactRef",
    "ArtifactStore",
    "BlobStore",
    "CodePackage",
    "LazyArtifact",
    "snapshot_code",
]
