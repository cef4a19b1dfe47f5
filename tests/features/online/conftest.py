"""The online stores under test: every contract test runs on SQLite and on a real Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.features.online import OnlineStore, open_online_store


@pytest.fixture(params=["sqlite", "redis"])
def online_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OnlineStore]:
    if request.param == "sqlite":
        store = open_online_store(f"sqlite:///{tmp_path / 'online.db'}")
    else:
        import redis

        url: str = request.getfixturevalue("redis_server")
        redis.Redis.from_url(url).flushdb()
        store = open_online_store(url)
    yield store
    store.close()
