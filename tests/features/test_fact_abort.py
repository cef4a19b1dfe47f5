"""Specification of giving up dead writes: a batch whose writer died between writing its files
and committing them is aborted, never becomes visible, stops blocking reads, and its files go."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shipyard.exceptions import ShipyardError
from shipyard.features.fact_files import FactFiles
from shipyard.features.facts import RECORDED_AT, FactsNotSettled, FactStore
from shipyard.metadata import open_metadata
from shipyard.metadata.fact_records import BatchState

SCHEMA = {"member_id": "int", "ts": "timestamp", "seconds": "float"}
DAY = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FactStore]:
    root = tmp_path / "store"
    with open_metadata(f"sqlite:///{root / 'metadata.db'}") as metadata:
        facts = FactStore(metadata.facts, FactFiles(str(root)), user="alice", settle_timeout=0.05)
        facts.table("plays", entity="member_id", event_time="ts", schema=SCHEMA)
        facts.ingest(
            "plays", pd.DataFrame({"member_id": [1, 2], "ts": [DAY] * 2, "seconds": [1.0] * 2})
        )
        yield facts


def killed_write(store: FactStore) -> tuple[int, list[str]]:
    """A write that allocated its batch and wrote its files, then died before committing."""
    batch = store.catalogue.begin_batch("plays")
    facts = pa.table({"member_id": [1, 3], "ts": [DAY] * 2, "seconds": [9.0, 9.0],
                      RECORDED_AT: [batch.recorded_at] * 2})  # fmt: skip
    written = store.files.write(
        "plays", facts, entity="member_id", sort_by=["member_id"], stamp=batch.recorded_at
    )
    return batch.batch_id, written


def test_a_dead_write_is_aborted_its_files_deleted_and_reads_go_on(store: FactStore) -> None:
    batch_id, written = killed_write(store)
    half_written = Path(store.files.url("facts/plays/b00/.tmp-1234-abcd"))
    pq.write_table(pa.table({"x": [1]}), half_written)
    hour_ago = time.time() - 7200
    os.utime(half_written, (hour_ago, hour_ago))
    later = datetime.now(UTC) + timedelta(seconds=1)
    with pytest.raises(FactsNotSettled, match="shipyard facts abort plays"):
        store.read("plays", as_of=later)

    # Begun just now, perhaps still writing: kept. A temporary file two hours old is not.
    first = store.abort("plays")
    assert (first.aborted, first.files_deleted) == ((), 1)
    assert not half_written.exists()
    assert all(Path(store.files.url(path)).exists() for path in written)
    done = store.abort("plays", older_than=timedelta(0))
    assert (done.aborted, done.files_deleted) == ((batch_id,), len(written))
    assert not any(Path(store.files.url(path)).exists() for path in written)
    assert list(store.read("plays", as_of=later).seconds) == [1.0, 1.0]
    [aborted] = store.catalogue.list_batches("plays", states=[BatchState.ABORTED])
    assert aborted.batch_id == batch_id
    with pytest.raises(ShipyardError, match="it is aborted, not pending"):
        store.catalogue.commit_batch(
            "plays", batch_id, files=written, row_count=2, min_event_time=None, max_event_time=None
        )


def test_files_of_other_writes_are_kept(store: FactStore) -> None:
    visible = [path for b in store.catalogue.list_batches("plays") for path in b.files]
    killed_write(store)
    in_progress = store.catalogue.begin_batch("plays")  # begun after the cutoff
    done = store.abort("plays", older_than=timedelta(0))
    assert len(done.aborted) == 2
    assert all(Path(store.files.url(path)).exists() for path in visible)
    assert in_progress.batch_id in done.aborted
    assert len(store.read("plays")) == 2


def test_an_external_tables_files_are_never_deleted(store: FactStore, tmp_path: Path) -> None:
    export = tmp_path / "orders.parquet"
    pq.write_table(pa.table({"id": [1], "ts": [DAY]}), export)
    store.table("orders", entity="id", event_time="ts", schema={"id": "int", "ts": "timestamp"},
                location=str(export))  # fmt: skip
    pending = store.catalogue.begin_batch("orders")  # a registration of old that never ended
    done = store.abort("orders", older_than=timedelta(0))
    assert (done.aborted, done.files_deleted) == ((pending.batch_id,), 0)
    assert export.exists() and len(store.read("orders")) == 1
