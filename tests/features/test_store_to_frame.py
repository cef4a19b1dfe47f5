"""The two halves joined: facts written through the fact store build a training frame from the
configured store, with restatements and `as_of` honoured end to end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from shipyard import facts
from shipyard.features import FeatureSet, count, last, lineage_of, mean

from ..conftest import Home


def day(n: int, hours: float = 0) -> datetime:
    return datetime(2026, 3, n, tzinfo=UTC) + timedelta(hours=hours)


def test_a_training_frame_reads_the_configured_fact_store(home: Home) -> None:
    facts.table(
        "plays",
        entity="member_id",
        event_time="ts",
        schema={"member_id": "int", "ts": "timestamp", "seconds": "float"},
    )
    first = facts.ingest(
        "plays",
        pd.DataFrame(
            {
                "member_id": [1, 1, 2],
                "ts": [day(1), day(2), day(1)],
                "seconds": [10.0, 20.0, 5.0],
            }
        ),
    )
    assert first is not None
    restated = facts.ingest(  # member 1's play on day 2 was really 200 s
        "plays", pd.DataFrame({"member_id": [1], "ts": [day(2)], "seconds": [200.0]})
    )
    assert restated is not None
    fs = FeatureSet(
        "plays_features",
        entity="member_id",
        features=[
            last("plays", "seconds"),
            count("plays", window="7d"),
            mean("plays", "seconds", window="7d"),
        ],
    )
    labels = pd.DataFrame(
        {
            "member_id": [1, 1, 2, 3],
            "timestamp": [day(2), day(3), day(3), day(3)],  # day(2): its own play is not before
            "label": [0, 1, 1, 0],
        }
    )

    now = fs.training_frame(labels)
    before_fix = fs.training_frame(labels, as_of=first.recorded_at)

    assert now["plays_seconds_last_unbounded"].tolist()[:3] == [10.0, 200.0, 5.0]
    assert pd.isna(now["plays_seconds_last_unbounded"].iloc[3])  # no facts: kept, with nothing
    assert now["plays_facts_count_7d"].tolist() == [1, 2, 1, 0]
    assert now["plays_seconds_mean_7d"].tolist()[:3] == [10.0, 105.0, 5.0]
    assert before_fix["plays_seconds_last_unbounded"].tolist()[:3] == [10.0, 20.0, 5.0]
    assert lineage_of(before_fix).as_of == first.recorded_at
    assert fs.training_frame(labels, as_of=restated.recorded_at).equals(now)
