"""`FittedFeatureSet`: a feature set's encoders with the state fitted on a training frame.

It is what a model is trained with and must be scored with: small (parameters and learnt
numbers, no data), serialized as canonical JSON, and content-addressed by `digest`, so a
model version can record exactly which fitted state it needs, and the same state applied
later gives the same inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from shipyard.features.encoders import Encoder, State, encoder_from_definition
from shipyard.features.errors import EncoderError
from shipyard.features.hashing import canonical_json, content_hash
from shipyard.features.snapshot import TrainingSnapshot

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pandas as pd

    from shipyard.features.online.store import OnlineStore

__all__ = ["FittedFeatureSet"]

#: Each encoded column's chain: the encoders in order, each with its fitted state.
Chains = Mapping[str, tuple[tuple[Encoder, State], ...]]


@dataclass(frozen=True)
class FittedFeatureSet:
    """The fitted encoders of one version of a feature set."""

    feature_set: str
    version: str
    encoders: Chains
    #: The encoded training frame's profile, made by `FeatureSet.fit` (None when read back
    #: from JSON): registered with a model, it is what served vectors are compared with to
    #: watch for drift. Data, not state: it is no part of `dumps` or `digest`.
    snapshot: TrainingSnapshot | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "feature_set": self.feature_set,
            "version": self.version,
            "encoders": {
                column: [{"encoder": e.definition(), "state": state} for e, state in chain]
                for column, chain in self.encoders.items()
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FittedFeatureSet:
        chains = {
            column: tuple((encoder_from_definition(s["encoder"]), s["state"]) for s in steps)
            for column, steps in data["encoders"].items()
        }
        return cls(data["feature_set"], data["version"], chains)

    def dumps(self) -> str:
        """The canonical JSON (what `digest` hashes)."""
        return canonical_json(self.to_json())

    @classmethod
    def loads(cls, text: str) -> FittedFeatureSet:
        import json

        return cls.from_json(json.loads(text))

    @cached_property
    def digest(self) -> str:
        """The sha256 of the canonical JSON: the content address of the fitted state."""
        return content_hash(self.to_json())

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """`frame` with every encoded column replaced by its encoding (an expanding encoder's
        columns take the place of the column); other columns are kept as they are."""
        import pandas as pd

        missing = sorted(set(self.encoders) - {str(c) for c in frame.columns})
        if missing:
            raise EncoderError(f"the frame has no columns {missing} to encode")
        pieces: list[pd.Series | pd.DataFrame] = []
        for column in frame.columns:
            values: pd.Series | pd.DataFrame = frame[column]
            for encoder, state in self.encoders.get(str(column), ()):
                assert isinstance(values, pd.Series)  # only the last step may expand
                values = encoder.transform(values, state)
            pieces.append(values)
        result = pd.concat(pieces, axis=1)
        result.attrs = dict(frame.attrs)
        return result

    def online_vectors(self, ids: Sequence[Any], store: OnlineStore | None = None) -> pd.DataFrame:
        """The encoded vectors of entities `ids` from the online `store` (default: the
        configured one), ready for `model.predict`: one row per id, in order, indexed by the
        ids. An entity the store does not hold gets the values a training frame gives a label
        without facts, encoded. `NotMaterialized` if the store never held this version."""
        import pandas as pd

        from shipyard.features.online.encoding import EncodedVectors
        from shipyard.features.online.factory import open_online_store
        from shipyard.features.online.vectors import OnlineVectors

        opened = store or open_online_store()
        try:
            reader = OnlineVectors(opened, self.version, feature_set=self.feature_set)
            encoded = EncodedVectors(reader, self).lookup(ids)
        finally:
            if store is None:
                opened.close()
        return encoded.frame(pd.Index(list(ids), name=reader.entity))

    def online_vector(self, entity: Any, store: OnlineStore | None = None) -> pd.DataFrame:
        """One entity's encoded vector: a one-row frame (see `online_vectors`)."""
        return self.online_vectors([entity], store)
