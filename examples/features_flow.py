"""Facts to a registered model: generated facts, a point-in-time training frame, encoders, a model.

Run it with `python features_flow.py run` (or `make demo` from the project root). It
generates two fact tables (nothing is downloaded): `members`, one fact per plan change, and
`plays`, 20 plays per member over two months. Members watch longer or shorter (a hidden
engagement), and the less engaged are likelier to churn. The flow builds a training frame
whose features see only facts from before each label's time, fits the feature set's encoders
on it, trains a classifier and registers it with the fitted feature set, so that scoring
later encodes its inputs exactly as training did:

    shipyard models show member-churn                 # names the feature set and its version
    models.registry().feature_set_of("member-churn")  # the fitted encoders, ready to transform

Then it materializes the feature set into the online store, proves that the stored vectors
equal their offline recomputation (`features check`), and scores members by id from it:

    shipyard features status
    shipyard features check examples/features_flow.py:CHURN_FEATURES
"""

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from shipyard import FlowSpec, Parameter, facts, features, models, step

MODEL_NAME = "member-churn"
START = datetime(2026, 1, 1, tzinfo=UTC)

CHURN_FEATURES = features.FeatureSet(
    "churn_features",
    entity="member_id",
    features=[
        features.last("members", "plan", name="plan"),
        features.last("members", "age", name="age"),
        features.count("plays", window="14d", name="plays_14d"),
        features.mean("plays", "minutes", window="30d", name="minutes_30d"),
        features.sum("plays", "minutes", window="30d", where="genre = 'series'", name="series_30d"),
    ],
    encoders={
        "plan": features.one_hot(),
        "age": [features.fill_missing("median"), features.standardize()],
        "plays_14d": features.log1p(),
        "minutes_30d": [features.fill_missing("mean"), features.standardize()],
        "series_30d": [features.fill_missing(value=0.0), features.log1p()],
    },
)
FEATURE_COLUMNS = [feature.name for feature in CHURN_FEATURES.features]


class FeaturesFlow(FlowSpec):
    """Churn model over member and play facts: ingest, build the frame, fit, train, register."""

    members = Parameter("members", default=200, help="How many members to generate.")
    plays_per_member = Parameter("plays_per_member", default=20, help="Plays per member.")
    seed = Parameter("seed", default=7, help="Random seed of the generated facts and labels.")

    @step
    def start(self):
        """Generate the facts, declare the tables and ingest them, and generate the labels."""
        rng = np.random.default_rng(self.seed)
        engagement = rng.normal(0.0, 1.0, self.members)
        members, plays = generate_facts(rng, engagement, self.plays_per_member)
        facts.table(
            "members",
            entity="member_id",
            event_time="ts",
            schema={"member_id": "int", "ts": "timestamp", "plan": "str", "age": "int"},
        )
        facts.table(
            "plays",
            entity="member_id",
            event_time="ts",
            schema={"member_id": "int", "ts": "timestamp", "minutes": "float", "genre": "str"},
        )
        facts.ingest("members", members)
        facts.ingest("plays", plays)
        self.labels = generate_labels(rng, engagement)
        print(f"ingested {len(members)} member facts and {len(plays)} plays")
        self.next(self.build_frame)

    @step
    def build_frame(self):
        """The training frame: each label row's features from the facts before its time."""
        self.train_frame = CHURN_FEATURES.training_frame(self.labels, timestamp="ts")
        lineage = features.lineage_of(self.train_frame)
        print(
            f"training frame: {len(self.train_frame)} rows, feature set {lineage.feature_set} "
            f"version {lineage.version[:12]}, as of {lineage.as_of:%Y-%m-%d %H:%M:%S}"
        )
        self.next(self.train)

    @step
    def train(self):
        """Fit the encoders and the model on the earlier labels, score on the later ones."""
        cutoff = START + timedelta(days=45)
        earlier = self.train_frame[self.train_frame.ts < cutoff]
        later = self.train_frame[self.train_frame.ts >= cutoff]
        fitted = CHURN_FEATURES.fit(earlier)
        model = LogisticRegression(max_iter=1000)
        model.fit(fitted.transform(earlier[FEATURE_COLUMNS]), earlier.churned)
        self.accuracy = float(model.score(fitted.transform(later[FEATURE_COLUMNS]), later.churned))
        version = models.register(
            MODEL_NAME, model, feature_set=fitted, metrics={"accuracy": self.accuracy}
        )
        self.registered_version = version.version
        self.feature_set_digest = fitted.digest
        print(f"registered {version.ref}: accuracy {self.accuracy:.3f} on the later labels")
        self.next(self.online)

    @step
    def online(self):
        """Materialize the features as of now, check parity, and score members by id."""
        from shipyard.features.online import open_online_store

        store = open_online_store()
        done = CHURN_FEATURES.materialize(store)
        ref = f"{MODEL_NAME}/{self.registered_version}"
        fitted = models.feature_set_of(ref)
        report = CHURN_FEATURES.check_online(store, fitted=fitted)
        self.online_mismatches = len(report.mismatches)
        members = [0, 1, 2, 10_000]  # 10,000 has no facts: it gets a training frame's empty values
        scores = models.load(ref).predict(fitted.online_vectors(members, store))
        store.close()
        print(
            f"materialized {done.written} members as of {done.as_of:%Y-%m-%d %H:%M:%S}; "
            f"parity: {report.checked} checked, {self.online_mismatches} mismatches; "
            f"scores of members {members}: {list(scores)}"
        )
        self.next(self.end)

    @step
    def end(self):
        """Say how to find the model and the feature set it was trained with."""
        print(f"shipyard models show {MODEL_NAME}/{self.registered_version}")


def generate_facts(
    rng: np.random.Generator, engagement: np.ndarray, plays_per_member: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Members (a signup and, for some, a plan change) and their plays over two months."""
    count = len(engagement)
    ids = np.arange(count)
    signups = pd.DataFrame(
        {
            "member_id": ids,
            "ts": START + pd.to_timedelta(rng.integers(0, 10 * 24 * 60, count), unit="min"),
            "plan": rng.choice(["basic", "standard"], count),
            "age": rng.integers(18, 75, count),
        }
    )
    # A third of the members move to premium some time in the following 40 days.
    movers = signups[rng.random(count) < 0.3]
    upgrades = movers.assign(
        ts=movers.ts + pd.to_timedelta(rng.integers(1, 40 * 24 * 60, len(movers)), unit="min"),
        plan="premium",
    )
    members = pd.concat([signups, upgrades], ignore_index=True)
    # Plays spread over the two months; engaged members watch longer.
    member = np.repeat(ids, plays_per_member)
    plays = pd.DataFrame(
        {
            "member_id": member,
            "ts": START + pd.to_timedelta(rng.integers(0, 60 * 24 * 60, member.size), unit="min"),
            "minutes": rng.gamma(4.0, 10.0 * np.exp(0.8 * engagement[member])).round(1),
            "genre": rng.choice(["series", "film", "documentary"], member.size),
        }
    )
    # One fact per member and instant: two plays drawn at the same minute are one.
    return members, plays.drop_duplicates(["member_id", "ts"])


def generate_labels(rng: np.random.Generator, engagement: np.ndarray) -> pd.DataFrame:
    """Two churn labels per member, at day 30 and day 60: the less engaged churn more."""
    count = len(engagement)
    at = [START + timedelta(days=30), START + timedelta(days=60)]
    churned = rng.random(2 * count) < 1.0 / (1.0 + np.exp(3.0 * np.tile(engagement, 2)))
    return pd.DataFrame(
        {
            "member_id": np.tile(np.arange(count), 2),
            "ts": np.repeat(at, count),
            "churned": churned.astype(int),
        }
    )


if __name__ == "__main__":
    FeaturesFlow()
