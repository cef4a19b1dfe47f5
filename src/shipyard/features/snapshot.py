"""`TrainingSnapshot`: what a model's inputs looked like at training, kept to compare later.

Drift is a question about distributions: do the vectors a model is served now look like the
ones it was trained on? Answering it needs the training distribution long after the training
frame is gone, so `FeatureSet.fit` profiles the encoded frame (the model's very inputs) and
the registry stores the profile with the model version. A profile is bounded whatever the
frame's size: per numeric column its count, nulls and 1,001 evenly spaced quantiles (the
empirical distribution to within 0.1%, enough for the Kolmogorov-Smirnov statistic and for
population-stability bins); per other column the counts of its most frequent values.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shipyard.features.hashing import canonical_json

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["ColumnKind", "ColumnProfile", "TrainingSnapshot", "finite"]

#: How many quantiles (0%, 0.1%, ..., 100%) a numeric column keeps.
QUANTILES = 1001
#: How many of a categorical column's most frequent values keep their own count.
TOP_VALUES = 200


class ColumnKind(enum.Enum):
    """How a column's distribution is profiled and compared."""

    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


@dataclass(frozen=True)
class ColumnProfile:
    """One input column's training distribution."""

    name: str
    kind: ColumnKind
    count: int
    nulls: int
    #: Numeric: the quantiles at evenly spaced probabilities from 0 to 1 (empty if all null).
    quantiles: tuple[float, ...] = ()
    #: Categorical: the counts of the most frequent values (the rest: `count - nulls - sum`).
    values: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind.value,
            "count": self.count,
            "nulls": self.nulls,
            "quantiles": list(self.quantiles),
            "values": dict(self.values),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ColumnProfile:
        return cls(
            name=data["name"],
            kind=ColumnKind(data["kind"]),
            count=data["count"],
            nulls=data["nulls"],
            quantiles=tuple(data["quantiles"]),
            values=dict(data["values"]),
        )

    @classmethod
    def of(cls, name: str, values: pd.Series) -> ColumnProfile:
        """The profile of one column of the encoded training frame."""
        import numpy as np
        import pandas as pd

        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            numbers = finite(values)
            quantiles = (
                np.quantile(numbers, np.linspace(0.0, 1.0, QUANTILES)) if len(numbers) else ()
            )
            nulls = len(values) - len(numbers)
            return cls(
                name, ColumnKind.NUMERIC, len(values), nulls, tuple(float(q) for q in quantiles)
            )
        present = values.dropna()
        counts = present.astype(str).value_counts(sort=True).head(TOP_VALUES)
        return cls(
            name,
            ColumnKind.CATEGORICAL,
            len(values),
            len(values) - len(present),
            values={str(k): int(v) for k, v in counts.items()},
        )


@dataclass(frozen=True)
class TrainingSnapshot:
    """The profiles of every input column of one model's training frame."""

    feature_set: str
    version: str
    columns: tuple[ColumnProfile, ...]

    @classmethod
    def of(cls, feature_set: str, version: str, encoded: pd.DataFrame) -> TrainingSnapshot:
        """The snapshot of `encoded`, the training frame as the model saw it."""
        return cls(
            feature_set,
            version,
            tuple(ColumnProfile.of(str(name), encoded[name]) for name in encoded.columns),
        )

    def column(self, name: str) -> ColumnProfile | None:
        return next((profile for profile in self.columns if profile.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "feature_set": self.feature_set,
            "version": self.version,
            "columns": [profile.to_json() for profile in self.columns],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrainingSnapshot:
        columns = tuple(ColumnProfile.from_json(c) for c in data["columns"])
        return cls(data["feature_set"], data["version"], columns)

    def dumps(self) -> str:
        return canonical_json(self.to_json())

    @classmethod
    def loads(cls, text: str) -> TrainingSnapshot:
        import json

        return cls.from_json(json.loads(text))


def finite(values: pd.Series) -> np.ndarray:
    """A numeric column's finite values as float64 (null, NaN and infinities left out: a
    distribution of numbers has no place for them, so they count with the nulls)."""
    import numpy as np
    import pandas as pd

    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return numbers[np.isfinite(numbers)]
