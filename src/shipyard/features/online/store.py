"""`OnlineStore`: the contract every online store backend implements (SQLite, Redis).

A backend is a key-value store and nothing more: per feature set version it keeps one
opaque vector per entity key (`codec.VectorCodec` decides the bytes: the values and the
materialization time) and one `OnlineVersion` record. It never interprets a vector, so a
new backend is these few methods. Callers get one from `open_online_store(url)`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from shipyard.features.online.records import OnlineVersion

__all__ = ["OnlineStore"]


class OnlineStore(Protocol):
    """Vectors by (feature set version, entity key), and one record per version."""

    #: Where the store is, for messages (a URL without credentials).
    url: str

    def write_vectors(self, version: str, vectors: Mapping[str, bytes]) -> None:
        """Store `vectors` (entity key -> encoded vector), replacing what the keys held.
        Each key's vector is replaced whole: a reader sees the old bytes or the new ones."""

    def read_vectors(self, version: str, keys: Sequence[str]) -> list[bytes | None]:
        """The vectors of `keys`, in order; None for a key the version does not hold."""

    def count(self, version: str) -> int:
        """How many entities the version holds a vector for."""

    def sample_keys(self, version: str, size: int) -> list[str]:
        """Up to `size` keys of the version, chosen at random."""

    def get_version(self, version: str) -> OnlineVersion | None:
        """The version's record, or None if it was never materialized here."""

    def put_version(self, record: OnlineVersion) -> None:
        """Save the version's record, replacing the one it had. Materialization saves it
        before the first vectors (their columns) and again after the last (the watermark),
        so a watermark never runs ahead of the vectors it describes."""

    def list_versions(self) -> list[OnlineVersion]:
        """Every version the store holds, by feature set name then version."""

    def close(self) -> None:
        """Release connections; the store is not used afterwards."""
