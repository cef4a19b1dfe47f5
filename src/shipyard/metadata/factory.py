"""`open_metadata(url)`: the one way to turn a metadata URL into a `MetadataBackend`.

Every caller (the runner, resume, the client, the registry, the CLI) opens its backend here, so
that a new backend (the HTTP one of team mode, for `http(s)://` URLs) is one branch in this
function and nothing else changes. The backend's module is imported inside the call: the SQL
backend imports SQLAlchemy, which costs a CLI command that never opens the metadata a good
part of its start-up time.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.config import STORE_DIR
from shipyard.exceptions import StoreNotFound
from shipyard.metadata.urls import sqlite_file

if TYPE_CHECKING:
    from shipyard.metadata.contract import MetadataBackend

__all__ = ["open_metadata"]


def open_metadata(url: str, *, create: bool = True) -> MetadataBackend:
    """The backend for `url` (`SHIPYARD_METADATA`), its schema ready to use.

    SQLAlchemy URLs (`sqlite:///path`, `postgresql://...`) open the SQL backend; any other URL
    raises `ShipyardError` naming the URLs that work. A reader passes `create=False`: a local
    SQLite database that does not exist is then `StoreNotFound` instead of a new, empty store
    (which would hide a wrong folder or setting behind "no runs found").
    """
    if not create:
        _require_existing(url)
    from shipyard.metadata.sql.backend import SQLMetadataBackend

    return SQLMetadataBackend(url)


def _require_existing(url: str) -> None:
    path = sqlite_file(url)
    if path is None or path.expanduser().exists():
        return
    where = path.expanduser().resolve()
    raise StoreNotFound(
        f"no Shipyard store at {where.parent} ({where.name} does not exist; a read never "
        f"creates one). Without SHIPYARD_DATASTORE the store is the first {STORE_DIR} folder "
        f"in the current folder ({Path.cwd()}) or its parents: run this from your project, "
        "set SHIPYARD_DATASTORE (or SHIPYARD_METADATA), or run a flow to create one here"
    )
