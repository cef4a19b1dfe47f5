"""The datastore: content-addressed blobs on any fsspec filesystem, artifacts, code snapshots.

Re-exports load on first use: the flow layer needs only `ArtifactRef`, and importing the
storage machinery (hashing threads, tarfile, fsspec) would slow every `python flow.py show`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shipyard.datastore.refs import ArtifactRef

if TYPE_CHECKING:
    from shipyard.datastore.artifacts import ArtifactStore, LazyArtifact
    from shipyard.datastore.blobs import BlobStore
    from shipyard.datastore.code import CodePackage, snapshot_code

__all__ = [
    "ArtifactRef",
    "ArtifactStore",
    "BlobStore",
    "CodePackage",
    "LazyArtifact",
    "snapshot_code",
]

_LAZY = {
    "ArtifactStore": "shipyard.datastore.artifacts",
    "LazyArtifact": "shipyard.datastore.artifacts",
    "BlobStore": "shipyard.datastore.blobs",
    "CodePackage": "shipyard.datastore.code",
    "snapshot_code": "shipyard.datastore.code",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'shipyard.datastore' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
