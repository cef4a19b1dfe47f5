"""The `OnlineStore` contract, on SQLite and on a real Redis server."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from shipyard.config import Config
from shipyard.features.online import (
    FeatureColumn,
    OnlineStore,
    OnlineStoreError,
    OnlineStoreUnavailable,
    OnlineVersion,
    default_online_store_url,
    open_online_store,
)

from ...conftest import Home

RECORD = OnlineVersion(
    feature_set="ranker",
    version="v1" * 32,
    entity="member_id",
    entity_type="int64",
    tables=("plays",),
    columns=(FeatureColumn("plays_7d", "int64", 0),),
)


def test_vectors_are_read_back_by_key_in_order_and_missing_keys_are_none(
    online_store: OnlineStore,
) -> None:
    online_store.write_vectors("v1", {"1": b"one", "2": b"two"})
    online_store.write_vectors("v2", {"1": b"other version"})

    assert online_store.read_vectors("v1", ["2", "3", "1"]) == [b"two", None, b"one"]
    assert online_store.read_vectors("v1", ["1"]) == [b"one"]
    assert online_store.read_vectors("v1", ["9"]) == [None]
    assert online_store.count("v1") == 2
    assert online_store.count("v3") == 0


def test_a_write_replaces_each_key_whole(online_store: OnlineStore) -> None:
    online_store.write_vectors("v1", {"1": b"old", "2": b"old"})
    online_store.write_vectors("v1", {"2": b"new"})
    assert online_store.read_vectors("v1", ["1", "2"]) == [b"old", b"new"]


def test_many_keys_are_read_in_one_call(online_store: OnlineStore) -> None:
    online_store.write_vectors("v1", {str(n): bytes([n % 256]) for n in range(2_000)})
    keys = [str(n) for n in range(1_999, -1, -2)]
    assert online_store.read_vectors("v1", keys) == [bytes([int(k) % 256]) for k in keys]


def test_a_sample_is_of_stored_keys_and_at_most_the_size_asked(
    online_store: OnlineStore,
) -> None:
    online_store.write_vectors("v1", {str(n): b"x" for n in range(10)})
    sample = online_store.sample_keys("v1", 4)
    assert len(sample) == len(set(sample)) == 4
    assert set(sample) <= {str(n) for n in range(10)}
    assert sorted(online_store.sample_keys("v1", 100), key=int) == [str(n) for n in range(10)]


def test_version_records_round_trip_with_their_watermark(online_store: OnlineStore) -> None:
    assert online_store.get_version(RECORD.version) is None
    online_store.put_version(RECORD)
    done = RECORD.completed(
        datetime(2026, 3, 1, tzinfo=UTC),
        datetime(2026, 3, 1, 0, 5, tzinfo=UTC),
        full=True,
        written=7,
    )
    online_store.put_version(done)
    other = OnlineVersion("alpha", "v2" * 32, "id", "string", ("t",), ())
    online_store.put_version(other)

    assert online_store.get_version(RECORD.version) == done
    assert online_store.list_versions() == [other, done]


def test_the_default_store_is_a_file_beside_the_metadata(home: Home) -> None:
    metadata = Path(Config.current().metadata.removeprefix("sqlite:///"))
    assert default_online_store_url() == f"sqlite:///{metadata.parent / 'online.db'}"


def test_the_configured_store_wins(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPYARD_ONLINE_STORE", "redis://127.0.0.1:1/0")
    assert default_online_store_url(Config.reload()) == "redis://127.0.0.1:1/0"


def test_an_unknown_url_and_an_unreachable_redis_say_what_works() -> None:
    with pytest.raises(OnlineStoreError, match="redis://host:port/db"):
        open_online_store("cassandra://somewhere")
    with pytest.raises(OnlineStoreUnavailable, match="cannot reach the online store"):
        open_online_store("redis://127.0.0.1:1/0")
