"""The errors of the online store: each says what to do next."""

from __future__ import annotations

from shipyard.exceptions import InfrastructureError, ShipyardError

__all__ = [
    "NotMaterialized",
    "OnlineStoreError",
    "OnlineStoreNotFound",
    "OnlineStoreUnavailable",
]


class OnlineStoreError(ShipyardError):
    """The online store cannot answer as asked (a bad URL, a vector it cannot decode)."""


class OnlineStoreUnavailable(OnlineStoreError, InfrastructureError):
    """The online store cannot be reached or opened (Redis down, an unwritable file)."""


class OnlineStoreNotFound(OnlineStoreError):
    """A reader found no online store where the configuration points (readers never create
    one: nothing was materialized there yet, or the configuration names another place)."""


class NotMaterialized(OnlineStoreError):
    """The online store holds no vectors of a feature set version: it was never materialized
    there (a model trained on a version the store does not serve yet)."""

    def __init__(self, feature_set: str, version: str, store: str) -> None:
        self.feature_set = feature_set
        self.version = version
        self.store = store
        super().__init__(
            f"the online store {store} holds no vectors of feature set {feature_set!r} version "
            f"{version[:12]}: materialize that version first (`shipyard features materialize "
            "MODULE:ATTR`, or fs.materialize(store) with the feature set it was fitted from)"
        )
