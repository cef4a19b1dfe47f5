"""Fixtures for the registry tests: a registry over a real SQLite file and blob directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from shipyard.datastore import ArtifactStore, BlobStore
from shipyard.metadata import open_metadata
from shipyard.registry import ModelRegistry

FLOWS = Path(__file__).parent / "flows"


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[ModelRegistry]:
    store = tmp_path / "store"
    metadata = open_metadata(f"sqlite:///{store / 'metadata.db'}")
    yield ModelRegistry(metadata, ArtifactStore(BlobStore(str(store))), user="alice")
    metadata.close()


@pytest.fixture
def frame() -> pd.DataFrame:
    """Eight rows of two numeric features."""
    return pd.DataFrame(
        {"x1": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], "x2": [1, 0, 1, 0, 1, 0, 1, 0]}
    )


@pytest.fixture
def labels() -> list[int]:
    return [0, 0, 0, 0, 1, 1, 1, 1]
