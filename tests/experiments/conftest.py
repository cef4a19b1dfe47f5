"""Fixtures of the experiments tests: real stores (SQLite file, blob folder) with two versions
of a model that predicts a constant."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.datastore import ArtifactStore, BlobStore
from shipyard.experiments import Experiments
from shipyard.metadata import open_metadata
from shipyard.registry import ModelRegistry

from .constant import constant_model


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[ModelRegistry]:
    """A registry with `ranker/1` (answers 1.0, alias production) and `ranker/2` (2.0)."""
    store = tmp_path / "store"
    metadata = open_metadata(f"sqlite:///{store / 'metadata.db'}")
    registry = ModelRegistry(metadata, ArtifactStore(BlobStore(str(store))), user="alice")
    registry.register("ranker", constant_model(1.0))
    registry.register("ranker", constant_model(2.0))
    registry.set_alias("ranker", "production", 1)
    yield registry
    metadata.close()


@pytest.fixture
def experiments(registry: ModelRegistry) -> Experiments:
    return Experiments(registry.metadata.experiments, registry, user="alice")
