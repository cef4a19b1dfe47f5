"""Specification of external fact tables: Parquet files registered where they are, recorded
at their registration, and new files part of the table only once `refresh` registers them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shipyard import features
from shipyard.features import FeatureSet
from shipyard.features.fact_files import FactFiles
from shipyard.features.facts import RECORDED_AT, FactSchemaError, FactStore
from shipyard.metadata import open_metadata

SCHEMA = {"customer_id": "int", "ordered_at": "timestamp", "amount": "float"}
DAY = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FactStore]:
    root = tmp_path / "store"
    with open_metadata(f"sqlite:///{root / 'metadata.db'}") as metadata:
        yield FactStore(metadata.facts, FactFiles(str(root)), user="alice")


def export(folder: Path, name: str, customers: list[int], day: int, amount: float) -> Path:
    """A warehouse export: its own column types (int32, naive timestamps) and an extra column."""
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "customer_id": pa.array(customers, pa.int32()),
            "ordered_at": pa.array([datetime(2026, 1, day)] * len(customers), pa.timestamp("ns")),
            "amount": [amount] * len(customers),
            "warehouse_note": ["x"] * len(customers),
        }
    )
    pq.write_table(table, folder / name)
    return folder / name


def declare(store: FactStore, location: str) -> None:
    store.table(
        "orders", entity="customer_id", event_time="ordered_at", schema=SCHEMA, location=location
    )


def test_files_are_read_in_place_recorded_at_their_registration(
    store: FactStore, tmp_path: Path
) -> None:
    exports = tmp_path / "warehouse"
    export(exports, "day1.parquet", [1, 2], day=1, amount=10.0)
    export(exports, "day2.parquet", [1], day=2, amount=20.0)
    declare(store, str(exports / "*.parquet"))
    [registration] = store.catalogue.list_batches("orders")
    assert registration.row_count == 3
    assert list(store.files.table_files("orders")) == []  # nothing was copied

    read = store.read("orders")
    assert list(read.customer_id) == [1, 1, 2]
    assert list(read.amount) == [10.0, 20.0, 10.0]
    assert list(read.ordered_at)[:2] == [DAY, DAY + timedelta(days=1)]
    assert set(read[RECORDED_AT]) == {registration.recorded_at}
    assert list(store.read("orders", [2]).amount) == [10.0]
    before = registration.recorded_at - timedelta(microseconds=1)
    assert store.read("orders", as_of=before).empty
    scan = store.scan("orders")
    assert scan.registered_at == (registration.recorded_at,) * 2

    # A later export (here restating customer 2's order) counts only once registered.
    export(exports, "day3.parquet", [2], day=1, amount=11.0)
    assert list(store.read("orders").amount) == [10.0, 20.0, 10.0]
    declare(store, str(exports / "*.parquet"))  # declaring again registers nothing
    refreshed = store.refresh("orders")
    assert refreshed is not None and refreshed.files == (str(exports / "day3.parquet"),)
    assert list(store.read("orders").amount) == [10.0, 20.0, 11.0]
    assert list(store.read("orders", as_of=registration.recorded_at).amount) == [10.0, 20.0, 10.0]
    assert store.refresh("orders") is None


def test_a_file_that_does_not_fit_the_schema_is_not_registered(
    store: FactStore, tmp_path: Path
) -> None:
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"customer_id": ["a"], "ordered_at": [DAY], "amount": [1.0]}), path)
    with pytest.raises(FactSchemaError, match=f"column 'customer_id' of {path} is string"):
        declare(store, str(path))
    assert store.list_tables() == []
    with pytest.raises(FactSchemaError, match="no Parquet file matches"):
        declare(store, str(tmp_path / "missing" / "*.parquet"))


def test_an_external_table_is_not_written_to(store: FactStore, tmp_path: Path) -> None:
    declare(store, str(export(tmp_path, "day1.parquet", [1], day=1, amount=1.0)))
    with pytest.raises(FactSchemaError, match=r"is external .* cannot be ingested into"):
        store.ingest("orders", pa.table({"customer_id": [2]}))
    with pytest.raises(FactSchemaError, match="cannot be compacted"):
        store.compact("orders")
    with pytest.raises(
        FactSchemaError, match=r"it is external over .*day1.parquet, not stored by Shipyard"
    ):
        store.table("orders", entity="customer_id", event_time="ordered_at", schema=SCHEMA)


def test_a_training_frame_reads_external_files_in_place_as_of_their_registration(
    store: FactStore, tmp_path: Path
) -> None:
    exports = tmp_path / "warehouse"
    export(exports, "day1.parquet", [1, 2], day=1, amount=10.0)
    declare(store, str(exports / "*.parquet"))
    export(exports, "day2.parquet", [1], day=2, amount=20.0)
    export(exports, "day2-restated.parquet", [2], day=1, amount=12.0)  # restates customer 2
    refreshed = store.refresh("orders")
    assert refreshed is not None
    fs = FeatureSet("orders", entity="customer_id", features=[
        features.last("orders", "amount", name="last"),
        features.sum("orders", "amount", window="30d", name="total"),
        features.count("orders", name="n"),
        features.python("orders", spent, name="spent"),
    ])  # fmt: skip
    labels = pd.DataFrame(
        {"customer_id": [1, 2, 1, 3], "timestamp": [DAY + timedelta(days=d) for d in (1, 3, 3, 3)]}
    )

    now = fs.training_frame(labels, facts=store.scan)
    assert list(now["last"].fillna(-1)) == [10.0, 12.0, 20.0, -1.0]
    assert list(now["total"].fillna(-1)) == [10.0, 12.0, 30.0, -1.0]
    assert list(now["n"]) == [1, 1, 2, 0]
    assert list(now["spent"].fillna(-1)) == list(now["total"].fillna(-1))

    before = fs.training_frame(
        labels, facts=store.scan, as_of=refreshed.recorded_at - timedelta(microseconds=1)
    )
    assert list(before["total"].fillna(-1)) == [10.0, 10.0, 10.0, -1.0]
    assert list(before["n"]) == [1, 1, 1, 0]


def spent(facts: pd.DataFrame) -> pd.Series:
    return facts.groupby("label")["amount"].sum()


def test_refreshes_running_at_once_register_each_file_once(tmp_path: Path) -> None:
    exports = tmp_path / "warehouse"
    export(exports, "day1.parquet", [1], day=1, amount=1.0)
    root = tmp_path / "store"
    url = f"sqlite:///{root / 'metadata.db'}"
    with open_metadata(url) as metadata:
        declare(FactStore(metadata.facts, FactFiles(str(root)), user="a"), str(exports / "*"))
    for day in range(2, 12):
        export(exports, f"day{day}.parquet", [day], day=day, amount=float(day))
    start = threading.Barrier(4)

    def refresh(_: int) -> int:
        with open_metadata(url) as metadata:
            store = FactStore(metadata.facts, FactFiles(str(root)), user="a")
            start.wait()
            added = store.refresh("orders")
            return 0 if added is None else len(added.files)

    with ThreadPoolExecutor(4) as pool:
        assert sorted(pool.map(refresh, range(4))) == [0, 0, 0, 10]
    with open_metadata(url) as metadata:
        listed = [path for b in metadata.facts.list_batches("orders") for path in b.files]
    assert len(listed) == len(set(listed)) == 11
