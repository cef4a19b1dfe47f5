"""A model trained on a feature set, for the serving tests that need one: play facts of 40
members, the `churn_features` feature set over them, and `churn` registered with its fitted
encoders (and so with a training snapshot)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from shipyard import facts, features
from shipyard.features import FeatureSet, FittedFeatureSet
from shipyard.registry import ModelRegistry, ModelVersion

START = datetime(2026, 1, 1, tzinfo=UTC)
MEMBERS = 40

CHURN_FEATURES = FeatureSet(
    "churn_features",
    entity="member_id",
    features=[
        features.mean("plays", "minutes", window="30d", name="minutes"),
        features.count("plays", window="30d", name="plays"),
        features.last("plays", "genre", name="genre"),
    ],
    encoders={
        "minutes": [features.fill_missing("mean"), features.standardize()],
        "plays": features.log1p(),
        "genre": features.one_hot(),
    },
)
FEATURES = [feature.name for feature in CHURN_FEATURES.features]


@dataclass(frozen=True)
class Churn:
    """The registered model and what it was trained with."""

    version: ModelVersion
    fitted: FittedFeatureSet
    frame: pd.DataFrame  # the training frame (labels and raw features)

    def encoded(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self.fitted.transform(frame[FEATURES])


def ingest_plays() -> pd.DataFrame:
    """Declare `plays` and ingest 10 plays per member (none for the last 5 members)."""
    rng = np.random.default_rng(3)
    member = np.repeat(np.arange(MEMBERS - 5), 10)
    plays = pd.DataFrame({
        "member_id": member,
        "ts": [START + timedelta(hours=int(h)) for h in rng.permutation(member.size)],
        "minutes": rng.gamma(4.0, 10.0, member.size).round(1),
        "genre": rng.choice(["series", "film"], member.size),
    })  # fmt: skip
    facts.table(
        "plays",
        entity="member_id",
        event_time="ts",
        schema={"member_id": "int", "ts": "timestamp", "minutes": "float", "genre": "str"},
    )
    facts.ingest("plays", plays)
    return plays


def register_churn(registry: ModelRegistry) -> Churn:
    """Ingest the plays, build the training frame, fit, train and register `churn`."""
    ingest_plays()
    labels = pd.DataFrame({
        "member_id": np.arange(MEMBERS),
        "ts": START + timedelta(days=20),
        "churned": np.arange(MEMBERS) % 2,
    })  # fmt: skip
    frame = CHURN_FEATURES.training_frame(labels, timestamp="ts")
    fitted = CHURN_FEATURES.fit(frame)
    encoded = fitted.transform(frame[FEATURES])
    model = LogisticRegression().fit(encoded, frame.churned)
    version = registry.register("churn", model, feature_set=fitted, input_example=encoded)
    return Churn(version, fitted, frame)
