"""Specification of compaction: small batches merged into one, while a writer writes, with
the answer of every read (at every `as_of`) unchanged."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from shipyard.features.fact_files import FactFiles
from shipyard.features.facts import RECORDED_AT, FactStore
from shipyard.metadata import open_metadata
from shipyard.metadata.fact_records import BatchState

SCHEMA = {"member_id": "int", "ts": "timestamp", "seconds": "float"}
DAY = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FactStore]:
    root = tmp_path / "store"
    with open_metadata(f"sqlite:///{root / 'metadata.db'}") as metadata:
        facts = FactStore(metadata.facts, FactFiles(str(root)), user="alice")
        facts.table("plays", entity="member_id", event_time="ts", schema=SCHEMA)
        yield facts


def batch(members: range, days: range, seconds: float) -> pd.DataFrame:
    rows = [(m, DAY + timedelta(days=d), seconds + m) for m in members for d in days]
    return pd.DataFrame(rows, columns=["member_id", "ts", "seconds"])


def answers(store: FactStore, moments: list[datetime | None]) -> list[pd.DataFrame]:
    reads = [store.read("plays", as_of=moment) for moment in moments]
    reads += [store.read("plays", [3, 7], start=DAY + timedelta(days=1), as_of=m) for m in moments]
    return [frame[frame.member_id < 100].reset_index(drop=True) for frame in reads]


def test_compaction_while_a_writer_writes_changes_no_answer(store: FactStore) -> None:
    recorded = []
    for n in range(6):  # overlapping keys: later batches restate earlier facts
        written = store.ingest("plays", batch(range(n, n + 8), range(n % 3, 4), seconds=n * 100))
        assert written is not None
        recorded.append(written.recorded_at)
    moments: list[datetime | None] = [*recorded, recorded[0] - timedelta(microseconds=1), None]
    before = answers(store, moments)
    files_before = {f for b in store.catalogue.list_batches("plays") for f in b.files}

    stop, wrote = threading.Event(), []

    def writer() -> None:
        while not stop.is_set() or len(wrote) < 3:
            wrote.append(
                store.ingest("plays", batch(range(100 + len(wrote), 101 + len(wrote)), range(2), 0))
            )

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        done = store.compact("plays", small_rows=1_000)
    finally:
        stop.set()
        thread.join()

    assert set(done.merged) >= {1, 2, 3, 4, 5, 6}
    assert done.files_after < done.files_before
    assert all(a.equals(b) for a, b in zip(answers(store, moments), before, strict=True))
    everything = store.read("plays")
    assert len(everything[everything.member_id >= 100]) == 2 * len(wrote)
    # The merged batches' files stay for readers that listed them, until the grace period ends.
    assert all(Path(store.files.url(f)).exists() for f in files_before)
    replaced = store.catalogue.list_batches("plays", states=[BatchState.REPLACED])
    again = store.compact("plays", small_rows=1_000, grace=timedelta(0))
    assert again.files_deleted == sum(len(b.files) for b in replaced) >= len(files_before)
    assert not any(Path(store.files.url(f)).exists() for f in files_before)
    assert all(a.equals(b) for a, b in zip(answers(store, moments), before, strict=True))
    states = {b.state for b in store.catalogue.list_batches("plays", states=BatchState)}
    assert states == {BatchState.VISIBLE, BatchState.REPLACED}  # the first merge's batch


def test_fewer_than_two_small_batches_are_left_alone(store: FactStore) -> None:
    store.ingest("plays", batch(range(3), range(2), 0))
    done = store.compact("plays")
    assert (done.merged, done.into, done.files_after) == ((), None, done.files_before)
    assert [b.batch_id for b in store.catalogue.list_batches("plays")] == [1]


def test_files_a_killed_writer_left_are_deleted_after_the_grace_period(store: FactStore) -> None:
    store.ingest("plays", batch(range(3), range(2), 0))
    store.catalogue.begin_batch("plays")  # a writer that began, wrote files, and was killed
    left = store.files.write(
        "plays",
        pa.table({"member_id": [1], "ts": [DAY], "seconds": [1.0], RECORDED_AT: [DAY]}),
        entity="member_id",
        sort_by=["member_id"],
        stamp=DAY,
    )
    hour_ago = time.time() - 3600
    os.utime(store.files.url(left[0]), (hour_ago, hour_ago))
    fresh = store.files.write(
        "plays",
        pa.table({"member_id": [2], "ts": [DAY], "seconds": [1.0], RECORDED_AT: [DAY]}),
        entity="member_id",
        sort_by=["member_id"],
        stamp=DAY,
    )
    done = store.compact("plays", grace=timedelta(minutes=30))
    assert done.files_deleted == 1
    assert not Path(store.files.url(left[0])).exists()
    assert Path(store.files.url(fresh[0])).exists()  # perhaps a write still in progress
    assert len(store.read("plays")) == 6
