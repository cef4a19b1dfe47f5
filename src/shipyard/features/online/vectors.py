"""`OnlineVectors`: one feature set version's vectors read back from an online store.

What a scorer holds per feature set version: the version's record (columns, types, empty
values) read once, then any number of lookups. A lookup returns the raw feature values with
a training frame's columns and dtypes; an entity the store does not hold gets what a
training frame gives a label without facts (0 for counts, else null). Encoders are applied
by the fitted feature set (`FittedFeatureSet.online_vectors`), not here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from shipyard.features.online.codec import StoredVector, VectorCodec, entity_key
from shipyard.features.online.errors import NotMaterialized
from shipyard.features.online.records import OnlineVersion
from shipyard.features.online.store import OnlineStore

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["OnlineVectors"]


class OnlineVectors:
    """Lookups of one feature set version in one online store."""

    def __init__(self, store: OnlineStore, version: str, *, feature_set: str = "?") -> None:
        record = store.get_version(version)
        if record is None:
            raise NotMaterialized(feature_set, version, store.url)
        self.store = store
        self.record: OnlineVersion = record
        self.codec = VectorCodec(record.columns)

    @property
    def entity(self) -> str:
        """The entity column's name (`member_id`)."""
        return self.record.entity

    @property
    def feature_names(self) -> list[str]:
        return [column.name for column in self.record.columns]

    def keys(self, ids: Sequence[Any]) -> list[str]:
        return [entity_key(value, self.record.entity_type) for value in ids]

    def lookup(self, ids: Sequence[Any]) -> list[StoredVector | None]:
        """Each id's stored vector (values and materialization time), None where none is."""
        stored = self.store.read_vectors(self.record.version, self.keys(ids))
        return [None if data is None else self.codec.decode(data) for data in stored]

    def frame(self, ids: Sequence[Any]) -> pd.DataFrame:
        """One row per id (in order, indexed by the ids under the entity's name), one column
        per feature: the stored values, or the empty values where the store has none."""
        import pandas as pd

        empty = self.codec.empty_values()
        rows = [empty if found is None else found.values for found in self.lookup(ids)]
        return self.codec.frame(rows, pd.Index(list(ids), name=self.record.entity))
