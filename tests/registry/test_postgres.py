"""The registry against a real PostgreSQL server: the same behaviour as on SQLite.

Version numbers are the part that differs most: PostgreSQL's transactions are not serialized
like SQLite's, so two registrations at once rely on the model row's lock.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from shipyard.datastore import ArtifactStore, BlobStore
from shipyard.metadata import open_metadata
from shipyard.registry import ModelRegistry

from .custom_models import ThresholdModel
from .test_registry import register_concurrently

pytestmark = pytest.mark.service


@pytest.fixture
def pg_registry(pg_url: str, tmp_path: Path) -> Iterator[ModelRegistry]:
    metadata = open_metadata(pg_url)
    yield ModelRegistry(metadata, ArtifactStore(BlobStore(str(tmp_path / "store"))), user="bob")
    metadata.close()


def test_register_alias_rollback_and_load_on_postgresql(pg_registry: ModelRegistry) -> None:
    frame = pd.DataFrame({"x": [0.2, 0.8]})
    first = pg_registry.register("rule", ThresholdModel(0.5), input_example=frame)
    pg_registry.register("rule", ThresholdModel(0.9), tags={"stage": "candidate"})

    pg_registry.set_alias("rule", "production", 1)
    pg_registry.set_alias("rule", "production", 2)
    assert pg_registry.rollback("rule", "production") == first
    assert pg_registry.load("rule@production").predict(frame) == [0, 1]
    moves = [
        (e.from_version, e.to_version, e.user)
        for e in pg_registry.alias_history("rule", "production")
    ]
    assert moves == [(None, 1, "bob"), (1, 2, "bob"), (2, 1, "bob")]
    assert pg_registry.resolve("rule").tags == {"stage": "candidate"}
    assert first.payload_sha256 in pg_registry.metadata.referenced_hashes()


def test_two_processes_registering_at_once_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    open_metadata(pg_url).close()  # the schema exists: the race is over version numbers only
    env = {
        **os.environ,
        "SHIPYARD_DATASTORE": str(tmp_path / "store"),
        "SHIPYARD_METADATA": pg_url,
        "SHIPYARD_USER": "bob",
        "SHIPYARD_CONFIG": str(tmp_path / "no-config.toml"),
    }

    assert register_concurrently(env, processes=3) == [1, 2, 3]
