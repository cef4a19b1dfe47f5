"""Which stores the client reads: the configured ones, or those `metadata(...)` chose.

Metaflow's `metadata("local@/path")` and `metadata("https://...")` point the client at
another metadata provider; here they point it at another Shipyard store. The choice lives in
a `ContextVar`, like the namespace, so that a server answering for several projects at once
never mixes them; a script or notebook sets it once and every object created after sees it.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from shipyard.config import STORE_DIR, Config, find_store
from shipyard.exceptions import StoreNotFound
from shipyard.metadata.urls import sqlite_file

__all__ = ["StoreChoice", "chosen_stores", "default_metadata", "get_metadata", "metadata"]

_LOCAL, _SERVICE = "local@", "service@"


@dataclass(frozen=True)
class StoreChoice:
    """A datastore URL and a metadata URL, read together."""

    datastore: str
    metadata: str


_chosen: ContextVar[StoreChoice | None] = ContextVar("shipyard_client_stores", default=None)


def chosen_stores() -> StoreChoice:
    """The stores client objects read: those `metadata(...)` chose, else the configuration's."""
    chosen = _chosen.get()
    if chosen is not None:
        return chosen
    config = Config.current()
    return StoreChoice(config.datastore, config.metadata)


def metadata(ms: str) -> str:
    """Point the client at another store, as Metaflow's `metadata(...)` switches providers;
    returns `get_metadata()`.

    `ms` is a project folder (its `.shipyard` store is used), a store folder, a metadata
    database file, or a metadata URL (`sqlite:///...`, `postgresql://...`, `https://...`);
    Metaflow's `local@PATH` and `service@URL` forms are accepted too. A database file or folder
    brings its datastore (the blobs beside it); a server URL keeps the configured datastore.
    Raises `StoreNotFound` for a path that holds no store.
    """
    spec = ms.removeprefix(_LOCAL).removeprefix(_SERVICE)
    database = sqlite_file(spec)
    if database is not None:
        choice = _local_choice(database)
    elif "://" in spec:
        choice = StoreChoice(Config.current().datastore, spec)
    else:
        choice = _local_choice(Path(spec))
    _chosen.set(choice)
    return get_metadata()


def get_metadata() -> str:
    """The metadata store the client reads, as Metaflow names providers: `local@<database
    file>` for an SQLite file, `service@<url>` for a server."""
    url = chosen_stores().metadata
    database = sqlite_file(url)
    if database is not None:
        return f"{_LOCAL}{database.expanduser().absolute()}"
    return f"{_SERVICE}{url}"


def default_metadata() -> str:
    """Go back to the configured stores (`SHIPYARD_METADATA`, ...); returns `get_metadata()`."""
    _chosen.set(None)
    return get_metadata()


def _local_choice(path: Path) -> StoreChoice:
    path = path.expanduser().absolute()
    if path.is_file():
        return StoreChoice(str(path.parent), f"sqlite:///{path}")
    store = path if _holds_store(path) else find_store(path)
    if store is None:
        raise StoreNotFound(
            f"no Shipyard store at {path}: give a project folder (holding {STORE_DIR}/), a "
            "store folder, a metadata.db file or a metadata URL"
        )
    return StoreChoice(str(store), f"sqlite:///{store / 'metadata.db'}")


def _holds_store(folder: Path) -> bool:
    return (folder / "metadata.db").is_file() or (folder / "blobs").is_dir()
