"""Drift: a model's served inputs compared with the snapshot of its training inputs, per
column, by population stability index and Kolmogorov-Smirnov statistic."""

from __future__ import annotations

import numpy as np
import pandas as pd

from shipyard import features
from shipyard.features.drift import Thresholds, drift
from shipyard.features.snapshot import QUANTILES, ColumnKind, TrainingSnapshot


def inputs(rows: int, seed: int, *, shift: float = 0.0) -> pd.DataFrame:
    """Model inputs: two normal columns (the first shifted by `shift` standard deviations),
    a 0/1 indicator and a category."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "minutes": rng.normal(size=rows) + shift,
        "age": rng.normal(40, 10, size=rows),
        "premium": rng.integers(0, 2, size=rows).astype("int8"),
        "genre": rng.choice(["comedy", "drama", "horror"], size=rows),
    })  # fmt: skip


TRAINED = TrainingSnapshot.of("ranker_features", "v1", inputs(5_000, seed=0))


def test_a_shift_in_one_column_is_flagged_and_the_unshifted_ones_are_not() -> None:
    report = drift(TRAINED, inputs(2_000, seed=1, shift=0.5))

    assert report.flagged == ["minutes"]
    minutes = report.columns[0]
    assert minutes.psi > 0.2 and minutes.ks is not None and minutes.ks > 0.1
    assert report.served == 2_000


def test_the_same_distribution_is_not_flagged() -> None:
    report = drift(TRAINED, inputs(2_000, seed=2))

    assert report.flagged == []
    assert all(column.psi < 0.05 for column in report.columns)


def test_a_categorical_column_is_compared_by_psi_only() -> None:
    served = inputs(2_000, seed=3).assign(genre="western")  # a value never seen in training

    report = drift(TRAINED, served)

    genre = next(c for c in report.columns if c.column == "genre")
    assert genre.kind is ColumnKind.CATEGORICAL and genre.ks is None
    assert report.flagged == ["genre"]


def test_nulls_that_training_never_saw_are_drift() -> None:
    served = inputs(2_000, seed=4)
    served.loc[: len(served) // 2, "age"] = None

    assert drift(TRAINED, served).flagged == ["age"]


def test_a_small_sample_differs_by_chance_without_being_flagged_by_ks() -> None:
    report = drift(TRAINED, inputs(60, seed=5), Thresholds(psi=10.0, ks=0.1))

    assert report.flagged == []


def test_thresholds_are_overridable() -> None:
    served = inputs(2_000, seed=6, shift=0.5)

    assert drift(TRAINED, served, Thresholds(psi=5.0, ks=0.9)).flagged == []


def test_a_snapshot_is_bounded_and_survives_json() -> None:
    big = TrainingSnapshot.of("ranker_features", "v1", inputs(50_000, seed=7))

    back = TrainingSnapshot.loads(big.dumps())

    assert back == big
    minutes = back.column("minutes")
    assert minutes is not None and len(minutes.quantiles) == QUANTILES
    assert len(big.dumps()) < 200_000


def test_fit_profiles_the_encoded_frame_the_model_is_trained_on() -> None:
    feature_set = features.FeatureSet(
        "ranker_features",
        entity="member_id",
        features=[
            features.mean("plays", "minutes", name="minutes"),
            features.last("plays", "genre", name="genre"),
        ],
        encoders={"minutes": features.standardize(), "genre": features.one_hot()},
    )
    frame = pd.DataFrame({"minutes": [1.0, 2.0, 3.0, None], "genre": ["a", "b", "a", None]})

    fitted = feature_set.fit(frame)

    assert fitted.snapshot is not None
    assert [c.name for c in fitted.snapshot.columns] == list(fitted.transform(frame).columns)
    minutes = fitted.snapshot.column("minutes")
    assert minutes is not None and (minutes.count, minutes.nulls) == (4, 1)
    # The snapshot is data, not state: the digest and JSON of the encoders ignore it.
    assert fitted.digest == features.FittedFeatureSet.loads(fitted.dumps()).digest
    assert features.FittedFeatureSet.loads(fitted.dumps()).snapshot is None
