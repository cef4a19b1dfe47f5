"""`open_metadata(url)`: the one way to turn a metadata URL into a `MetadataBackend`.

Every caller (the runner, resume, the client, the registry, the CLI) opens its backend here, so
that a new backend (the HTTP one of team mode, for `http(s)://` URLs) is one branch in this
function and nothing else changes. The backend's module is imported inside the call: the SQL
backend imports SQLAlchemy, which costs a CLI command that never opens the metadata a good
part of its start-up time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shipyard.metadata.contract import MetadataBackend

__all__ = ["open_metadata"]


def open_metadata(url: str) -> MetadataBackend:
    """The backend for `url` (`SHIPYARD_METADATA`), its schema ready to use.

    SQLAlchemy URLs (`sqlite:///path`, `postgresql://...`) open the SQL backend; any other URL
    raises `ShipyardError` naming the URLs that work.
    """
    from shipyard.metadata.sql.backend import SQLMetadataBackend

    return SQLMetadataBackend(url)
