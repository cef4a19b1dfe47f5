"""Specification of partitioned training frames: split by entity, built one partition at a
time here (the Ray path is `test_partitioned_ray.py`), the same frame byte for byte."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shipyard import features
from shipyard.datastore.serialization import serialize
from shipyard.features import FeatureSet, TrainingFrameError, lineage_of
from shipyard.features.fact_files import FactFiles
from shipyard.features.facts import FactStore
from shipyard.metadata import open_metadata

DAY = datetime(2026, 1, 1, tzinfo=UTC)
GENRES = ["comedy", "drama", "horror"]


def minutes_spread(facts: pd.DataFrame) -> pd.Series:
    return facts.groupby("label")["minutes"].std()


FEATURES = FeatureSet("partitioned", entity="member_id", features=[
    features.last("plays", "minutes"),
    features.last("plays", "genre"),
    features.count("plays", window="7d"),
    features.mean("plays", "minutes", window="30d"),
    features.sum("plays", "minutes"),
    features.count_distinct("plays", "genre", window="14d"),
    features.count("plays", where="genre = 'comedy'", name="comedies"),
    features.python("plays", minutes_spread, window="30d"),
    features.last("orders", "amount"),
    features.sum("orders", "amount", window="30d", name="spent_30d"),
], encoders={
    "plays_minutes_mean_30d": [features.fill_missing("median"), features.standardize()],
    "plays_genre_last_unbounded": features.category(),
})  # fmt: skip


def fill(store: FactStore, exports: Path) -> None:
    """Three batches of plays (the last restating some of the first) over 40 members, and an
    external table of orders exported as Parquet (int32 ids, registered in place)."""
    rng = random.Random(12)
    schema = {"member_id": "int", "ts": "timestamp", "minutes": "float", "genre": "string"}
    store.table("plays", entity="member_id", event_time="ts", schema=schema)
    first = None
    for _ in range(3):
        rows = {
            (rng.randrange(40), DAY + timedelta(hours=rng.randrange(24 * 40))) for _ in range(300)
        }
        batch = pd.DataFrame(sorted(rows), columns=["member_id", "ts"])
        batch["minutes"] = [rng.random() * 60 for _ in range(len(batch))]
        batch["genre"] = [rng.choice(GENRES) for _ in range(len(batch))]
        if first is None:
            first = batch
        else:
            restated = first.head(20).assign(minutes=-1.0)
            batch = pd.concat([batch, restated]).drop_duplicates(["member_id", "ts"], keep="last")
        store.ingest("plays", batch)
    exports.mkdir()
    for day in range(0, 40, 10):
        members = list(range(day % 7, 40, 3))
        pq.write_table(pa.table({
            "member_id": pa.array(members, pa.int32()),
            "ts": [DAY + timedelta(days=day, hours=m) for m in members],
            "amount": [float(m + day) for m in members],
        }), exports / f"orders-{day:02d}.parquet")  # fmt: skip
    store.table("orders", entity="member_id", event_time="ts", location=str(exports),
                schema={"member_id": "int", "ts": "timestamp", "amount": "float"})  # fmt: skip


def labels() -> pd.DataFrame:
    """500 labels over 45 members (some without a fact), in no particular order."""
    rng = random.Random(3)
    frame = pd.DataFrame({
        "member_id": [rng.randrange(45) for _ in range(500)],
        "timestamp": [DAY + timedelta(hours=rng.randrange(24 * 45)) for _ in range(500)],
        "clicked": [rng.random() < 0.3 for _ in range(500)],
    })  # fmt: skip
    frame.index = [f"l{n}" for n in range(500)]
    return frame


def frame_bytes(frame: pd.DataFrame) -> bytes:
    return b"".join(serialize(frame).chunks)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FactStore]:
    root = tmp_path_factory.mktemp("partitioned")
    with open_metadata(f"sqlite:///{root / 'store' / 'metadata.db'}") as metadata:
        facts = FactStore(metadata.facts, FactFiles(str(root / "store")), user="alice")
        fill(facts, root / "exports")
        yield facts


def test_a_frame_built_in_partitions_is_the_frame_built_at_once(store: FactStore) -> None:
    whole = FEATURES.training_frame(labels(), facts=store.scan, executor="local")
    assert whole["plays_minutes_last_unbounded"].isna().sum() > 0  # members without facts
    assert (whole["plays_minutes_last_unbounded"] == -1.0).any()  # restatements were read
    split = FEATURES.training_frame(
        labels(), facts=store.scan, as_of=lineage_of(whole).as_of, executor="local", partitions=3
    )
    assert frame_bytes(split) == frame_bytes(whole)


def test_partitions_are_one_to_sixteen(store: FactStore) -> None:
    with pytest.raises(TrainingFrameError, match="partitions=17: give 1 to 16"):
        FEATURES.training_frame(labels(), facts=store.scan, partitions=17)
    with pytest.raises(TrainingFrameError, match="executor='spark'"):
        FEATURES.training_frame(labels(), facts=store.scan, executor="spark")
