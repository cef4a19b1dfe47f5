"""A version registered with `feature_set=` keeps the feature set's name, version and fitted
encoder state, so that scoring later encodes exactly as training did, in any process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from shipyard import features
from shipyard.features import FeatureSet, FittedFeatureSet
from shipyard.registry import ModelRegistry

RANKER = FeatureSet(
    "ranker_features",
    entity="member_id",
    features=[
        features.mean("plays", "minutes", window="30d", name="minutes"),
        features.last("plays", "genre", name="genre"),
        features.count("plays", name="plays"),
    ],
    encoders={
        "minutes": [features.fill_missing("mean"), features.standardize()],
        "genre": features.one_hot(),
        "plays": features.log1p(),
    },
)
TRAIN = pd.DataFrame({
    "minutes": [1.0, 2.0, 3.0, None, 4.0, 8.0],
    "genre": ["comedy", "drama", "comedy", None, "horror", "drama"],
    "plays": [0, 1, 3, 7, 15, 2],
})  # fmt: skip
LABELS = [0, 1, 0, 1, 1, 0]
LATER = pd.DataFrame({"minutes": [6.0, None], "genre": ["western", "comedy"], "plays": [2, 100]})


@pytest.fixture
def fitted() -> FittedFeatureSet:
    return RANKER.fit(TRAIN)


def trained(fitted: FittedFeatureSet) -> LogisticRegression:
    return LogisticRegression().fit(fitted.transform(TRAIN), LABELS)


def test_the_version_records_the_feature_set_name_version_and_fitted_state(
    registry: ModelRegistry, fitted: FittedFeatureSet
) -> None:
    version = registry.register("ranker", trained(fitted), feature_set=fitted)

    assert version.feature_set is not None
    assert (version.feature_set.name, version.feature_set.version) == (
        "ranker_features",
        RANKER.version,
    )
    assert version.feature_set.sha256 == fitted.digest
    assert registry.resolve("ranker/1").feature_set == version.feature_set
    assert "feature_set" not in version.environment  # environment stays Python and libraries
    back = registry.feature_set_of("ranker/1")
    assert back is not None and back.digest == fitted.digest
    pd.testing.assert_frame_equal(back.transform(LATER), fitted.transform(LATER))


def test_a_fresh_process_reads_back_the_same_state_and_encodes_identically(
    registry: ModelRegistry, fitted: FittedFeatureSet, tmp_path: Path
) -> None:
    registry.register("ranker", trained(fitted), feature_set=fitted)
    later = tmp_path / "later.json"
    LATER.to_json(later, orient="split")
    script = textwrap.dedent(
        f"""
        import json, sys
        import pandas as pd
        from shipyard.datastore import ArtifactStore, BlobStore
        from shipyard.metadata import open_metadata
        from shipyard.registry import ModelRegistry

        store = {str(tmp_path / "store")!r}
        registry = ModelRegistry(
            open_metadata(f"sqlite:///{{store}}/metadata.db"), ArtifactStore(BlobStore(store))
        )
        fitted = registry.feature_set_of("ranker")
        frame = pd.read_json({str(later)!r}, orient="split")
        encoded = fitted.transform(frame)
        model = registry.load("ranker").model
        json.dump({{
            "digest": fitted.digest,
            "encoded": encoded.to_json(orient="split", double_precision=15),
            "predicted": model.predict_proba(encoded).tolist(),
        }}, sys.stdout)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=120
    )

    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["digest"] == fitted.digest
    here = fitted.transform(LATER)
    assert answer["encoded"] == here.to_json(orient="split", double_precision=15)
    assert answer["predicted"] == trained(fitted).predict_proba(here).tolist()


def test_a_model_registered_without_a_feature_set_has_none(registry: ModelRegistry) -> None:
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
    version = registry.register("plain", LogisticRegression().fit(frame, [0, 0, 1, 1]))

    assert version.feature_set is None
    assert registry.feature_set_of("plain") is None
    assert registry.feature_set_of(version) is None


def test_garbage_collection_keeps_the_fitted_state_of_every_version(
    registry: ModelRegistry, fitted: FittedFeatureSet
) -> None:
    registry.register("ranker", trained(fitted), feature_set=fitted)

    assert fitted.digest in registry.metadata.referenced_hashes()


def test_a_feature_set_that_is_not_fitted_is_refused_before_anything_is_stored(
    registry: ModelRegistry, fitted: FittedFeatureSet
) -> None:
    with pytest.raises(TypeError, match=r"FittedFeatureSet .*\(`feature_set.fit\(frame\)`\)"):
        registry.register("ranker", trained(fitted), feature_set=RANKER)  # type: ignore[arg-type]

    assert registry.list_models() == []
