"""The online half of shared features: feature vectors materialized into an online store
(SQLite or Redis) and read back for scoring, with parity and freshness checks (see
docs/features.md)."""

from shipyard.features.online.codec import StoredVector, VectorCodec, entity_key
from shipyard.features.online.errors import (
    NotMaterialized,
    OnlineStoreError,
    OnlineStoreNotFound,
    OnlineStoreUnavailable,
)
from shipyard.features.online.factory import default_online_store_url, open_online_store
from shipyard.features.online.freshness import Freshness, freshness
from shipyard.features.online.materialize import Materialization, materialize
from shipyard.features.online.parity import Mismatch, ParityReport, check_parity
from shipyard.features.online.records import FeatureColumn, OnlineVersion
from shipyard.features.online.store import OnlineStore
from shipyard.features.online.vectors import OnlineVectors

__all__ = [
    "FeatureColumn",
    "Freshness",
    "Materialization",
    "Mismatch",
    "NotMaterialized",
    "OnlineStore",
    "OnlineStoreError",
    "OnlineStoreNotFound",
    "OnlineStoreUnavailable",
    "OnlineVectors",
    "OnlineVersion",
    "ParityReport",
    "StoredVector",
    "VectorCodec",
    "check_parity",
    "default_online_store_url",
    "entity_key",
    "freshness",
    "materialize",
    "open_online_store",
]
