"""`open_online_store(url)`: the one way to turn an online store URL into an `OnlineStore`.

`redis://` and `rediss://` URLs open Redis; `sqlite:///path` (or a plain path) opens SQLite.
Without a URL the configuration's `online_store` (`SHIPYARD_ONLINE_STORE`) is used, and
without that the embedded default: `online.db` beside the SQLite metadata database (or in
`./.shipyard/` when the metadata is elsewhere, e.g. PostgreSQL).
"""

from __future__ import annotations

from pathlib import Path

from shipyard.config import STORE_DIR, Config
from shipyard.features.online.errors import OnlineStoreError, OnlineStoreNotFound
from shipyard.features.online.store import OnlineStore
from shipyard.metadata.urls import sqlite_file

__all__ = ["default_online_store_url", "open_online_store"]

_SQLITE = "sqlite:///"


def default_online_store_url(config: Config | None = None) -> str:
    """The online store of the configuration: its `online_store`, else the embedded default."""
    config = config or Config.current()
    if config.online_store:
        return config.online_store
    metadata_file = sqlite_file(config.metadata)
    folder = metadata_file.parent if metadata_file is not None else Path(STORE_DIR)
    return f"{_SQLITE}{folder / 'online.db'}"


def open_online_store(url: str | None = None, *, create: bool = True) -> OnlineStore:
    """The online store `url` names (default: the configuration's, see the module).

    Readers pass `create=False`: an SQLite file that does not exist yet then raises
    `OnlineStoreNotFound` instead of being created empty (which would hide that the real
    one is elsewhere)."""
    url = url or default_online_store_url()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from shipyard.features.online.redis_store import RedisOnlineStore

        return RedisOnlineStore(url)
    if url.startswith(_SQLITE) or "://" not in url:
        from shipyard.features.online.sqlite_store import SQLiteOnlineStore

        path = Path(url.removeprefix(_SQLITE))
        if not create and not path.is_file():
            raise OnlineStoreNotFound(
                f"there is no online store at {path}: nothing was materialized there yet "
                "(`shipyard features materialize FEATURESET`), or SHIPYARD_ONLINE_STORE names "
                "another place"
            )
        return SQLiteOnlineStore(path)
    raise OnlineStoreError(
        f"unknown online store URL {url!r}: use sqlite:///path/online.db (or a path) for the "
        "embedded store, or redis://host:port/db for Redis"
    )
