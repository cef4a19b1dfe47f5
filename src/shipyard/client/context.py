"""The stores a client object reads from, opened on first use and shared while the URLs hold.

Opening a metadata store imports SQLAlchemy and opening an artifact store imports fsspec;
each is paid only when first needed (the `shipyard runs` command never touches blobs).
Contexts are cached by their URLs, so objects created under the same configuration share
one connection pool, and a reloaded configuration (`Config.reload()` after a change of
`SHIPYARD_DATASTORE`/`SHIPYARD_METADATA`) is picked up by the next object created.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.client.stores import chosen_stores
from shipyard.config import Config
from shipyard.metadata.urls import sqlite_file

if TYPE_CHECKING:
    from shipyard.datastore import ArtifactStore, BlobStore
    from shipyard.metadata.contract import MetadataBackend, RunLister

__all__ = ["ClientContext", "current_context"]

# Enough for a process switching between a few projects; older contexts are closed and
# dropped so that a long notebook session or a test suite does not pile up connections.
_MAX_CACHED = 8


class ClientContext:
    """One metadata store and one artifact store, each opened lazily.

    Client objects hold the context they were created in and hand it to the objects they
    create, so a `Run` and its steps and tasks always read the same stores.
    """

    def __init__(self, datastore: str, metadata: str) -> None:
        self.datastore_url = datastore
        self.metadata_url = metadata
        self._metadata: MetadataBackend | None = None
        self._artifacts: ArtifactStore | None = None
        self._listing: RunLister | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Config, folder: Path | None = None) -> ClientContext:
        """A context reading the stores `config` names; relative local paths in it are taken
        from `folder` when given (the folder another process read `config` in)."""
        datastore, metadata = config.datastore, config.metadata
        if folder is not None:
            if "://" not in datastore and not Path(datastore).is_absolute():
                datastore = str(folder / datastore)
            database = sqlite_file(metadata)
            if database is not None and not database.is_absolute():
                metadata = f"sqlite:///{folder / database}"
        return cls(datastore, metadata)

    @property
    def metadata(self) -> MetadataBackend:
        """The metadata store, opened (and migrated if needed) on first access.

        Never created: a reader that finds no database raises `MetadataNotFound`, rather than
        making an empty one that would hide where the real one is.
        """
        if self._metadata is None:
            with self._lock:
                if self._metadata is None:
                    from shipyard.metadata import open_metadata

                    self._metadata = open_metadata(self.metadata_url, create=False)
        return self._metadata

    def metadata_for_writing(self) -> MetadataBackend:
        """The metadata store for a writer (the model registry): created if missing, but only
        where the datastore holds no data yet (`open_metadata_for_writing`)."""
        if self._metadata is None:
            blobs = self.blobs  # outside the lock, which opening the blob store takes too
            with self._lock:
                if self._metadata is None:
                    from shipyard.metadata import open_metadata_for_writing

                    self._metadata = open_metadata_for_writing(self.metadata_url, blobs)
        return self._metadata

    @property
    def listing(self) -> RunLister:
        """Where lists of flows and runs come from.

        A local SQLite database at a known schema is read directly, without importing
        SQLAlchemy (see `run_index`), which is what lets `shipyard runs` answer quickly; in
        every other case, and once the metadata store is open anyway, the store itself.
        """
        if self._metadata is not None:
            return self._metadata
        if self._listing is None:
            from shipyard.metadata.run_index import open_run_index

            self._listing = open_run_index(self.metadata_url) or self.metadata
        return self._listing

    @property
    def artifacts(self) -> ArtifactStore:
        """The artifact store over the datastore's blobs, opened on first access."""
        if self._artifacts is None:
            with self._lock:
                if self._artifacts is None:
                    from shipyard.datastore import ArtifactStore, BlobStore

                    self._artifacts = ArtifactStore(BlobStore(self.datastore_url))
        return self._artifacts

    @property
    def blobs(self) -> BlobStore:
        """The raw blob store, for logs and code packages."""
        return self.artifacts.blobs

    def close(self) -> None:
        """Release the metadata store's connections; the context reopens them if used again."""
        with self._lock:
            store, self._metadata, self._listing = self._metadata, None, None
        if store is not None:
            store.close()

    def __repr__(self) -> str:
        return f"ClientContext(datastore={self.datastore_url!r}, metadata={self.metadata_url!r})"


_cache: dict[tuple[int, str, str], ClientContext] = {}
_cache_lock = threading.Lock()


def current_context() -> ClientContext:
    """The context for the stores the client reads (the configuration's, unless `metadata()`
    chose others), cached by their URLs.

    The process id is part of the key because a metadata store's pooled connections must not
    cross `os.fork()`: a forked worker gets contexts of its own.
    """
    stores = chosen_stores()
    key = (os.getpid(), stores.datastore, stores.metadata)
    evicted: list[ClientContext] = []
    with _cache_lock:
        context = _cache.pop(key, None)
        if context is None:
            context = ClientContext(stores.datastore, stores.metadata)
        _cache[key] = context  # re-inserted last: the dict's order is least recently used first
        while len(_cache) > _MAX_CACHED:
            old_key = next(iter(_cache))
            old = _cache.pop(old_key)
            # A context inherited from the parent process is dropped but not closed: its
            # connections are the parent's to close.
            if old_key[0] == key[0]:
                evicted.append(old)
    for old in evicted:
        old.close()
    return context
