"""Fixtures for the metadata store tests: a real SQLite database file per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.metadata import MetadataBackend, open_metadata


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A URL whose parent directory does not exist yet, as on a fresh checkout."""
    return f"sqlite:///{tmp_path / 'dot-shipyard' / 'metadata.db'}"


@pytest.fixture
def store(db_url: str) -> Iterator[MetadataBackend]:
    metadata = open_metadata(db_url)
    yield metadata
    metadata.close()
