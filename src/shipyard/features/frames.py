"""What a training frame records about how it was built.

A training frame is a plain `pandas.DataFrame` (what every training library takes) whose
`attrs` hold its lineage as JSON-able values under `LINEAGE_KEY`. pandas pickles `attrs`,
so the lineage travels with the frame when a step stores it as an artifact;
`lineage_of(frame)` reads it back as a typed record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shipyard.features.errors import TrainingFrameError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LINEAGE_KEY", "FrameLineage", "lineage_of"]

LINEAGE_KEY = "shipyard.training_frame"


@dataclass(frozen=True)
class FrameLineage:
    """The feature set (name and version), the `as_of` and the fact tables behind a frame."""

    feature_set: str
    version: str
    as_of: datetime
    tables: tuple[str, ...]
    entity: str
    timestamp: str

    def to_json(self) -> dict[str, Any]:
        return {
            "feature_set": self.feature_set,
            "version": self.version,
            "as_of": self.as_of.isoformat(),
            "tables": list(self.tables),
            "entity": self.entity,
            "timestamp": self.timestamp,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FrameLineage:
        return cls(
            feature_set=data["feature_set"],
            version=data["version"],
            as_of=datetime.fromisoformat(data["as_of"]),
            tables=tuple(data["tables"]),
            entity=data["entity"],
            timestamp=data["timestamp"],
        )


def lineage_of(frame: pd.DataFrame) -> FrameLineage:
    """The lineage of a frame built by `FeatureSet.training_frame`."""
    data = frame.attrs.get(LINEAGE_KEY)
    if data is None:
        raise TrainingFrameError(
            "this frame carries no training-frame lineage: build it with "
            "FeatureSet.training_frame (pandas keeps `attrs` through copies and pickling, "
            "but not through every operation, e.g. merge)"
        )
    return FrameLineage.from_json(data)
