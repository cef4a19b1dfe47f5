"""`open_metadata(url)`: the one way to turn a metadata URL into a `MetadataBackend`.

Every caller (the runner, resume, the client, the registry, the CLI) opens its backend here, so
that a new backend (the HTTP one of team mode, for `http(s)://` URLs) is one branch in this
function and nothing else changes. The backend's module is imported inside the call: the SQL
backend imports SQLAlchemy, which costs a CLI command that never opens the metadata a good
part of its start-up time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipyard.metadata.errors import MetadataNotFound

if TYPE_CHECKING:
    from shipyard.datastore.blobs import BlobStore
    from shipyard.metadata.contract import MetadataBackend

__all__ = ["open_metadata", "open_metadata_for_writing"]


def open_metadata(url: str, *, create: bool = True) -> MetadataBackend:
    """The backend for `url` (`SHIPYARD_METADATA`), its schema ready to use.

    SQLAlchemy URLs (`sqlite:///path`, `postgresql://...`) open the SQL backend; any other URL
    raises `MetadataUnavailable` naming the URLs that work. A database that does not exist yet
    (or is empty) is created, unless `create` is false: readers pass that, since a database
    made by a reader would hide that the real one is elsewhere or lost, and raises
    `MetadataNotFound` instead. A read-only SQLite file is opened read-only (for inspection).
    """
    from shipyard.metadata.sql.backend import SQLMetadataBackend

    return SQLMetadataBackend(url, create=create)


def open_metadata_for_writing(url: str, blobs: BlobStore, *, new: bool = False) -> MetadataBackend:
    """The backend a writer (a run, the model registry) records into, beside the datastore
    `blobs`.

    A missing (or empty) database is created only where `blobs` holds nothing yet, or when
    `new` says so. Beside the data of earlier runs a new database would number runs from 1
    again, and their old pathspecs would name new runs: that raises `MetadataNotFound`.
    """
    try:
        return open_metadata(url, create=new)
    except MetadataNotFound as exc:
        # Listing blobs costs a remote store a request or more: only when it matters.
        if next(iter(blobs.iter_hashes()), None) is None:
            return open_metadata(url)
        raise MetadataNotFound(
            f"{exc}. The datastore {blobs.url} holds the data of earlier runs, though: a new "
            "database would number runs from 1 again, so their pathspecs would name new runs. "
            "Restore the database (or point SHIPYARD_METADATA at it), or start a new one "
            "anyway with `python FLOW_FILE run --new-metadata`."
        ) from None
