"""Set up the entity-scoring benchmark: `bench-churn@production`, trained on a feature set
whose vectors are materialized into the configured online store.

2,000 members with 20 plays each; the feature set is three `plays` features with fitted
encoders (fill and standardize, log1p, one-hot). Writes `rows.json` to OUT_DIR: per member
its id and its encoded vector as the entity path builds it (`fitted.online_vectors`), so
that a raw-feature request and an entity request for one member score the same inputs.

    python entity_serving_setup.py OUT_DIR
"""

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from shipyard import facts, features, models
from shipyard.features.online import open_online_store

MEMBERS, PLAYS = 2_000, 20
NOW = datetime.now(UTC)

FEATURE_SET = features.FeatureSet(
    "bench_churn_features",
    entity="member_id",
    features=[
        features.mean("plays", "minutes", window="30d", name="minutes_30d"),
        features.count("plays", window="7d", name="plays_7d"),
        features.last("plays", "genre", name="genre"),
    ],
    encoders={
        "minutes_30d": [features.fill_missing("mean"), features.standardize()],
        "plays_7d": features.log1p(),
        "genre": features.one_hot(),
    },
)
COLUMNS = [feature.name for feature in FEATURE_SET.features]


def ingest(rng: np.random.Generator) -> None:
    member = np.repeat(np.arange(MEMBERS), PLAYS)
    seconds = rng.choice(60 * 24 * 3600, size=member.size, replace=False)
    plays = pd.DataFrame({
        "member_id": member,
        "ts": [NOW - timedelta(seconds=int(s)) for s in seconds],
        "minutes": rng.gamma(4.0, 10.0, member.size).round(1),
        "genre": rng.choice(["series", "film", "documentary"], member.size),
    })  # fmt: skip
    facts.table(
        "plays",
        entity="member_id",
        event_time="ts",
        schema={"member_id": "int", "ts": "timestamp", "minutes": "float", "genre": "str"},
    )
    facts.ingest("plays", plays)


def main(out: Path) -> None:
    rng = np.random.default_rng(11)
    ingest(rng)
    labels = pd.DataFrame({
        "member_id": np.arange(MEMBERS),
        "ts": NOW - timedelta(days=10),
        "churned": rng.integers(0, 2, MEMBERS),
    })  # fmt: skip
    frame = FEATURE_SET.training_frame(labels, timestamp="ts")
    fitted = FEATURE_SET.fit(frame)
    encoded = fitted.transform(frame[COLUMNS])
    model = LogisticRegression(max_iter=1000).fit(encoded, frame.churned)
    version = models.register(
        "bench-churn", model, feature_set=fitted, input_example=encoded.head(5)
    )
    models.set_alias("bench-churn", "production", version.version)
    store = open_online_store()
    FEATURE_SET.materialize(store)
    ids = list(range(MEMBERS))
    vectors = fitted.online_vectors(ids, store).reset_index(drop=True)
    store.close()
    rows = [
        {
            "member_id": member,
            "features": json.loads(
                vectors.iloc[[i]].to_json(orient="records", double_precision=15)
            )[0],
        }
        for i, member in enumerate(ids)
    ]
    (out / "rows.json").write_text(json.dumps(rows))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
