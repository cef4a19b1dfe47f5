"""Training frames skip work only where it cannot change an answer: resolving versions where
the files prove no fact is restated, sorting facts where their sums add up exactly."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shipyard import features
from shipyard.features.exact_sums import exact_scales
from shipyard.features.fact_files import FactFiles
from shipyard.features.facts import FactStore
from shipyard.features.restatements import may_restate
from shipyard.metadata import open_metadata

SCHEMA = {"member_id": "int", "ts": "timestamp", "seconds": "float"}
MEAN = features.mean("plays", "seconds", window="30d", name="mean")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FactStore]:
    root = tmp_path / "store"
    with open_metadata(f"sqlite:///{root / 'metadata.db'}") as metadata:
        facts = FactStore(metadata.facts, FactFiles(str(root)), user="alice")
        facts.table("plays", entity="member_id", event_time="ts", schema=SCHEMA)
        yield facts


def day(n: int) -> datetime:
    return datetime(2026, 1, n, tzinfo=UTC)


def plays(members: range, seconds: float, days: range = range(1, 6)) -> pd.DataFrame:
    rows = [(m, day(d), seconds) for m in members for d in days]
    return pd.DataFrame(rows, columns=["member_id", "ts", "seconds"])


def frame(store: FactStore) -> list[float]:
    labels = pd.DataFrame({"member_id": [0, 40], "timestamp": [day(9), day(9)]})
    fs = features.FeatureSet("f", entity="member_id", features=[MEAN])
    return fs.training_frame(labels, facts=lambda table, _: store.scan(table))["mean"].tolist()


def test_batches_of_other_entities_restate_nothing(store: FactStore) -> None:
    store.ingest("plays", plays(range(0, 20), 1.0))
    store.ingest("plays", plays(range(20, 60), 2.0))
    assert not may_restate(store.scan("plays"))
    assert frame(store) == [1.0, 2.0]


def test_a_batch_that_may_restate_is_resolved(store: FactStore) -> None:
    store.ingest("plays", plays(range(0, 60), 1.0))
    store.ingest("plays", plays(range(40, 41), 5.0, days=range(3, 4)))
    assert may_restate(store.scan("plays"))
    assert frame(store) == [1.0, 1.8]


def test_compacted_files_may_restate(store: FactStore) -> None:
    store.ingest("plays", plays(range(0, 60), 1.0))
    store.ingest("plays", plays(range(40, 41), 5.0, days=range(3, 4)))
    store.compact("plays")
    assert may_restate(store.scan("plays"))
    assert frame(store) == [1.0, 1.8]


def test_a_file_the_store_did_not_mark_may_restate(store: FactStore, tmp_path: Path) -> None:
    store.ingest("plays", plays(range(0, 60), 1.0))
    scan = store.scan("plays")
    unmarked = tmp_path / "unmarked.parquet"
    pq.write_table(pq.read_table(scan.files[0]).replace_schema_metadata(), unmarked)
    assert not may_restate(replace(scan, files=scan.files[:1]))
    assert may_restate(replace(scan, files=(str(unmarked),)))


def scales(store: FactStore) -> dict[str, int]:
    with duckdb.connect() as connection:
        return exact_scales(connection, store.scan("plays"), [MEAN])


def ingest_values(store: FactStore, member: int, values: list[float]) -> None:
    rows = [
        {"member_id": member, "ts": day(1) + timedelta(minutes=i), "seconds": v}
        for i, v in enumerate(values)
    ]
    store.ingest("plays", pa.Table.from_pylist(rows))


def test_means_add_up_exactly_whatever_the_order(store: FactStore) -> None:
    tenths = [0.1, 0.2, 0.3] * 40
    ingest_values(store, 0, tenths)
    ingest_values(store, 40, [2.5e9, 1e-6])
    assert "seconds" in scales(store)
    assert frame(store) == [math.fsum(tenths) / len(tenths), math.fsum([2.5e9, 1e-6]) / 2]


@pytest.mark.parametrize("values", [[1e-300, 1e300], [1.0, float("nan")], [1.0, float("inf")]])
def test_too_wide_or_non_finite_columns_keep_the_sorted_sum(
    store: FactStore, values: list[float]
) -> None:
    ingest_values(store, 0, values)
    assert scales(store) == {}
    expected = sum(values) / len(values)
    got = frame(store)[0]
    assert got == expected or (math.isnan(got) and math.isnan(expected))
