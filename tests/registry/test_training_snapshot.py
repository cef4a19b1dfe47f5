"""A version registered with the fitted feature set `fit` returned keeps a snapshot of its
training inputs: what `shipyard features drift` compares the served vectors with."""

from __future__ import annotations

import pytest

from shipyard.exceptions import ShipyardError
from shipyard.features import FittedFeatureSet
from shipyard.registry import ModelRegistry

from .test_feature_sets import RANKER, TRAIN, trained


def test_the_training_snapshot_is_stored_with_the_version_and_read_back(
    registry: ModelRegistry,
) -> None:
    fitted = RANKER.fit(TRAIN)
    version = registry.register("ranker", trained(fitted), feature_set=fitted)

    assert version.feature_set is not None and version.feature_set.snapshot is not None
    snapshot = registry.training_snapshot_of("ranker/1")
    assert snapshot == fitted.snapshot
    assert [c.name for c in snapshot.columns] == list(fitted.transform(TRAIN).columns)
    assert version.feature_set.snapshot in registry.metadata.referenced_hashes()


def test_a_loaded_version_comes_with_its_encoders_and_snapshot(registry: ModelRegistry) -> None:
    fitted = RANKER.fit(TRAIN)
    registry.register("ranker", trained(fitted), feature_set=fitted)

    loaded = registry.load("ranker")

    assert loaded.feature_set is not None and loaded.feature_set.digest == fitted.digest
    assert loaded.training_snapshot == fitted.snapshot


def test_a_fitted_state_read_back_from_json_registers_without_a_snapshot(
    registry: ModelRegistry,
) -> None:
    fitted = FittedFeatureSet.loads(RANKER.fit(TRAIN).dumps())
    registry.register("ranker", trained(fitted), feature_set=fitted)

    assert registry.load("ranker").training_snapshot is None
    with pytest.raises(ShipyardError, match=r"without a training snapshot.*feature_set\.fit"):
        registry.training_snapshot_of("ranker")
