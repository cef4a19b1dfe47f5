"""Parity, proven: online vectors recomputed offline must be identical.

`check_parity` takes a sample of the vectors an online store holds for a feature set
version, recomputes each one with `training_frame` as of the moment it was materialized
(the time packed in the vector), and compares value by value: raw feature values, and,
given the fitted feature set a model was trained with, the encoded model inputs too. Values
must be equal exactly (both null counts as equal): the same definitions over the same facts
compute the same numbers, so any difference is a bug or a damaged store.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shipyard.features.online.store import OnlineStore
from shipyard.features.online.vectors import OnlineVectors

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.features.featureset import FeatureSet, ScanResolver
    from shipyard.features.fitted import FittedFeatureSet

__all__ = ["Mismatch", "ParityReport", "check_parity"]

DEFAULT_SAMPLE = 1_000


@dataclass(frozen=True)
class Mismatch:
    """One value that differs: the entity, the feature (or encoded column), both values."""

    entity: Any
    feature: str
    online: Any
    offline: Any


@dataclass(frozen=True)
class ParityReport:
    feature_set: str
    version: str
    #: How many entities were compared.
    checked: int
    mismatches: tuple[Mismatch, ...]

    @property
    def ok(self) -> bool:
        return not self.mismatches


def check_parity(
    feature_set: FeatureSet,
    store: OnlineStore,
    *,
    sample: int = DEFAULT_SAMPLE,
    entities: Sequence[Any] | None = None,
    fitted: FittedFeatureSet | None = None,
    facts: ScanResolver | None = None,
) -> ParityReport:
    """Compare `sample` stored vectors chosen at random (or those of `entities`) with their
    offline recomputation; `fitted` compares the encoded inputs as well."""
    import pandas as pd

    if facts is None:
        from shipyard.features import facts as fact_store

        facts = fact_store.scan
    reader = OnlineVectors(store, feature_set.version, feature_set=feature_set.name)
    if entities is None:
        entities = [_entity(key, reader) for key in store.sample_keys(feature_set.version, sample)]
    stored = reader.lookup(entities)
    by_moment: dict[datetime, list[Any]] = defaultdict(list)
    for entity, vector in zip(entities, stored, strict=True):
        if vector is not None:
            by_moment[vector.materialized_at].append(entity)
    mismatches: list[Mismatch] = []
    for moment, ids in sorted(by_moment.items()):
        online = reader.frame(ids)
        labels = pd.DataFrame({feature_set.entity: ids, "__at": [moment] * len(ids)})
        labels["__at"] = labels["__at"].astype("datetime64[us, UTC]")
        frame = feature_set.training_frame(labels, timestamp="__at", as_of=moment, facts=facts)
        offline = frame[reader.feature_names].set_axis(online.index)
        mismatches += _differences(online, offline)
        if fitted is not None:
            mismatches += _differences(fitted.transform(online), fitted.transform(offline))
    checked = sum(len(ids) for ids in by_moment.values())
    return ParityReport(feature_set.name, feature_set.version, checked, tuple(mismatches))


def _entity(key: str, reader: OnlineVectors) -> Any:
    """The entity id a store key stands for (integers are keyed as decimal text)."""
    from shipyard.features.online.codec import Kind, kind_of

    return int(key) if kind_of(reader.record.entity_type) is Kind.INT else key


def _differences(online: pd.DataFrame, offline: pd.DataFrame) -> list[Mismatch]:
    found = []
    for column in online.columns:
        pairs = zip(online.index, online[column].tolist(), offline[column].tolist(), strict=True)
        for entity, left, right in pairs:
            if not _same(left, right):
                found.append(Mismatch(entity, str(column), left, right))
    return found


def _same(left: Any, right: Any) -> bool:
    import pandas as pd

    left_missing, right_missing = _missing(left, pd), _missing(right, pd)
    if left_missing or right_missing:
        return left_missing and right_missing
    if isinstance(left, float) and isinstance(right, float) and math.isnan(left):
        return math.isnan(right)
    return bool(left == right)


def _missing(value: Any, pd: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))
