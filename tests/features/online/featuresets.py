"""The feature set the online tests materialize: windows, a filter, a Python feature, text,
and encoders with fitted state. Also what `shipyard features ... FEATURESET` loads
(`tests/features/online/featuresets.py:RANKER`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from shipyard import facts
from shipyard.features import (
    FeatureSet,
    count,
    count_distinct,
    fill_missing,
    last,
    mean,
    one_hot,
    python,
    standardize,
)


def minutes_spread(plays: pd.DataFrame) -> pd.Series:
    by_label = plays.groupby("label")["seconds"]
    return by_label.max() - by_label.min()


RANKER = FeatureSet(
    "ranker_features",
    entity="member_id",
    features=[
        last("plays", "seconds"),
        count("plays", window="7d"),
        mean("plays", "seconds", window="30d"),
        last("plays", "genre"),
        count_distinct("plays", "genre", window="30d"),
        count("plays", where="genre = 'comedy'", name="comedies"),
        python("plays", minutes_spread, window="30d"),
    ],
    encoders={
        "plays_seconds_mean_30d": [fill_missing("median"), standardize()],
        "plays_genre_last_unbounded": one_hot(),
        "plays_facts_count_7d": standardize(),
    },
)


def declare_plays() -> None:
    facts.table(
        "plays",
        entity="member_id",
        event_time="ts",
        schema={"member_id": "int", "ts": "timestamp", "seconds": "float", "genre": "str"},
    )


def plays(*rows: tuple[int, datetime, float | None, str | None]) -> pd.DataFrame:
    """Fact rows (member, event time, seconds, genre) as a frame to ingest."""
    return pd.DataFrame(rows, columns=["member_id", "ts", "seconds", "genre"])


def labels_at(members: list[Any], moment: datetime) -> pd.DataFrame:
    """One label row per member at `moment`: what a materialization at `moment` computes."""
    return pd.DataFrame({"member_id": members, "timestamp": [moment] * len(members)}).astype(
        {"timestamp": "datetime64[us, UTC]"}
    )


def days_ago(now: datetime, days: float) -> datetime:
    return now - timedelta(days=days)


def now() -> datetime:
    return datetime.now(UTC)
