"""Artifacts as stored objects: serialize into a content-addressed blob, load back by reference.

The runtime saves a task's artifacts here and records the returned `ArtifactRef`s in the
metadata store; the client and downstream tasks load them back, lazily, from those refs.
"""

from __future__ import annotations

import hashlib
import threading
from typing import TYPE_CHECKING, Any

from shipyard.datastore.blobs import BlobStore
from shipyard.datastore.refs import ArtifactRef
from shipyard.datastore.serialization import ArtifactSerializationError, deserialize, serialize

if TYPE_CHECKING:
    from shipyard.datastore.flow_classes import FlowClasses

__all__ = ["ArtifactStore", "LazyArtifact"]


class ArtifactStore:
    """Python objects in a `BlobStore`: equal serialized bytes are stored once."""

    def __init__(self, blobs: BlobStore, flow_classes: FlowClasses | None = None) -> None:
        self._blobs = blobs
        self._flow_classes = flow_classes

    @property
    def blobs(self) -> BlobStore:
        """The blob store underneath (shared with logs and code packages)."""
        return self._blobs

    def __repr__(self) -> str:
        return f"ArtifactStore({self._blobs.url!r})"

    def reading_run(self, flow_classes: FlowClasses) -> ArtifactStore:
        """This store, loading with `flow_classes` unless `load` is given others.

        A task reads its run's artifacts through it: whether its flow file is `__main__`
        (a forked task) or the snapshot's module (a fresh interpreter), it reads what the
        tasks that ran the other way stored.
        """
        return ArtifactStore(self._blobs, flow_classes)

    def save(self, obj: Any, unchanged_from: ArtifactRef | None = None) -> ArtifactRef:
        """Store `obj`; the returned ref is all that is needed to load it again anywhere.

        `unchanged_from` is the ref `obj` was loaded from: if it still serializes to the same
        bytes, that ref is returned without writing anything (a step that only read a large
        artifact costs a hash, not a rewrite).
        """
        serialized = serialize(obj)
        if unchanged_from is not None and unchanged_from.encoding == serialized.encoding:
            digest = hashlib.sha256()
            for chunk in serialized.chunks:
                digest.update(chunk)
            if digest.hexdigest() == unchanged_from.sha256:
                return unchanged_from
        sha, size = self._blobs.put_chunks(serialized.chunks)
        return ArtifactRef(
            sha256=sha, type_name=serialized.type_name, size=size, encoding=serialized.encoding
        )

    def load(self, ref: ArtifactRef, flow_classes: FlowClasses | None = None) -> Any:
        """The object `ref` points to, verified against its hash.

        `flow_classes` are those of the run that stored it (by default, the ones this store
        reads with), so that classes defined in the flow file resolve from the run's code
        snapshot in a process that does not run that flow file.
        Raises `BlobNotFound` or `CorruptBlobError` if the datastore lost or damaged it.
        """
        data = self._blobs.get(ref.sha256)
        try:
            return deserialize(data, ref.encoding, flow_classes or self._flow_classes)
        except (ImportError, AttributeError) as exc:
            # Unpickling imports the artifact's classes: the usual cause is a package or
            # module that is missing or changed in the reading environment.
            raise ArtifactSerializationError(
                f"cannot load artifact {ref.sha256[:12]} of type {ref.type_name}: {exc}. "
                "Install the package that defines this type (at a compatible version) in "
                "the environment reading it."
            ) from exc


_NOT_LOADED: Any = object()


class LazyArtifact:
    """An artifact loaded on first access, then kept.

    Tasks and client objects refer to many artifacts but usually read few; deferring the
    load means an unread 10 GiB array costs nothing.
    """

    def __init__(
        self, store: ArtifactStore, ref: ArtifactRef, flow_classes: FlowClasses | None = None
    ) -> None:
        self._store = store
        self._ref = ref
        self._flow_classes = flow_classes
        self._value: Any = _NOT_LOADED
        # Two threads reading the same artifact must not load it twice.
        self._lock = threading.Lock()

    @property
    def ref(self) -> ArtifactRef:
        """Where the artifact is stored, readable without loading it."""
        return self._ref

    @property
    def is_loaded(self) -> bool:
        """Whether `value` has been read already (so accessing it is free)."""
        return self._value is not _NOT_LOADED

    @property
    def value(self) -> Any:
        """The artifact's object, loaded from the store on first access."""
        if self._value is _NOT_LOADED:
            with self._lock:
                if self._value is _NOT_LOADED:
                    self._value = self._store.load(self._ref, self._flow_classes)
        return self._value

    def __repr__(self) -> str:
        state = "loaded" if self.is_loaded else "not loaded"
        return f"<LazyArtifact {self._ref.type_name} {self._ref.sha256[:12]} ({state})>"
