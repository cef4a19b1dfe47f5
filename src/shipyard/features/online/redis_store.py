"""The Redis online store, for production: `redis://host:port/db`.

Per feature set version one hash maps entity keys to vectors (`HMGET` answers a batch of
lookups in one round trip, `HLEN` counts, `HRANDFIELD` samples), and one string holds the
version's record; a set lists the versions. Every key starts with `shipyard:online:`, so
the store can share a Redis database. One `write_vectors` call is one `HSET` (atomic in Redis).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from shipyard.features.online.errors import OnlineStoreUnavailable
from shipyard.features.online.records import OnlineVersion

if TYPE_CHECKING:
    import redis

__all__ = ["RedisOnlineStore"]

_PREFIX = "shipyard:online:"
_VERSIONS = _PREFIX + "versions"


def _vectors(version: str) -> str:
    return f"{_PREFIX}vectors:{version}"


def _record(version: str) -> str:
    return f"{_PREFIX}version:{version}"


class RedisOnlineStore:
    """An online store in a Redis database."""

    def __init__(self, url: str) -> None:
        import redis

        self._client: redis.Redis = redis.Redis.from_url(url)
        where = self._client.connection_pool.connection_kwargs
        self.url = f"redis://{where.get('host', '?')}:{where.get('port', '?')}/{where.get('db', 0)}"
        try:
            self._client.ping()
        except redis.RedisError as exc:
            raise OnlineStoreUnavailable(
                f"cannot reach the online store {self.url}: {exc}; start Redis there or point "
                "SHIPYARD_ONLINE_STORE elsewhere"
            ) from exc

    def write_vectors(self, version: str, vectors: Mapping[str, bytes]) -> None:
        if vectors:
            self._client.hset(_vectors(version), mapping=dict(vectors))  # type: ignore[arg-type]

    def read_vectors(self, version: str, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        if len(keys) == 1:
            return [self._client.hget(_vectors(version), keys[0])]  # type: ignore[list-item]
        return list(self._client.hmget(_vectors(version), list(keys)))  # type: ignore[arg-type]

    def count(self, version: str) -> int:
        return int(self._client.hlen(_vectors(version)))  # type: ignore[arg-type]

    def sample_keys(self, version: str, size: int) -> list[str]:
        if size <= 0:
            return []
        keys = self._client.hrandfield(_vectors(version), size) or []
        return [key.decode() for key in keys]  # type: ignore[union-attr]

    def get_version(self, version: str) -> OnlineVersion | None:
        data = self._client.get(_record(version))
        return None if data is None else OnlineVersion.from_json(json.loads(data))  # type: ignore[arg-type]

    def put_version(self, record: OnlineVersion) -> None:
        pipeline = self._client.pipeline(transaction=True)
        pipeline.set(_record(record.version), json.dumps(record.to_json()))
        pipeline.sadd(_VERSIONS, record.version)
        pipeline.execute()

    def list_versions(self) -> list[OnlineVersion]:
        versions = sorted(v.decode() for v in self._client.smembers(_VERSIONS))  # type: ignore[union-attr]
        records = [self.get_version(version) for version in versions]
        found = [record for record in records if record is not None]
        return sorted(found, key=lambda r: (r.feature_set, r.version))

    def close(self) -> None:
        self._client.close()
