"""Specification of fact tables: declaring, writing with the schema checked, and reading with
the as-of rule (restatements visible from their recorded_at on, never before)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shipyard.features.fact_files import FactFiles
from shipyard.features.fact_read import for_entities
from shipyard.features.facts import RECORDED_AT, FactSchemaError, FactsNotSettled, FactStore
from shipyard.metadata import open_metadata
from shipyard.metadata.fact_records import BatchState

from ..conftest import Home

SCHEMA = {"member_id": "int", "ts": "timestamp", "seconds": "float", "genre": "str"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FactStore]:
    root = tmp_path / "store"
    with open_metadata(f"sqlite:///{root / 'metadata.db'}") as metadata:
        facts = FactStore(metadata.facts, FactFiles(str(root)), user="alice")
        facts.table("plays", entity="member_id", event_time="ts", schema=SCHEMA)
        yield facts


def day(n: int, **extra: float) -> datetime:
    return datetime(2026, 1, n, tzinfo=UTC) + timedelta(**extra)


def plays(*rows: tuple[int, datetime, float, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["member_id", "ts", "seconds", "genre"])


def values(frame: pd.DataFrame) -> list[tuple[int, datetime, float]]:
    return [
        (int(m), t.to_pydatetime(), float(s))
        for m, t, s in zip(frame.member_id, frame.ts, frame.seconds, strict=True)
    ]


# ----------------------------------------------------------------------------- declaring


def test_an_identical_declaration_is_accepted_and_a_different_one_refused(
    store: FactStore,
) -> None:
    spelled_differently = {"member_id": "int64", "ts": "timestamp[ns]", "seconds": "double"}
    again = store.table(
        "plays",
        entity="member_id",
        event_time="ts",
        schema={**spelled_differently, "genre": "string"},
    )
    assert again.schema == {
        "member_id": "int64",
        "ts": "timestamp[us, tz=UTC]",
        "seconds": "double",
        "genre": "string",
    }
    with pytest.raises(FactSchemaError) as refused:
        store.table(
            "plays",
            entity="member_id",
            event_time="ts",
            schema={"member_id": "int", "ts": "timestamp", "seconds": "int", "country": "str"},
        )
    assert str(refused.value).startswith("fact table 'plays' is declared already, differently:")
    for part in ("'seconds' is double, not int64", "'genre' (string) is missing", "'country'"):
        assert part in str(refused.value)


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"member_id": "int", "ts": "uuid"}, "column 'ts' has type 'uuid'"),
        ({"member_id": "int"}, "event_time column 'ts' is not in the schema"),
        ({"member_id": "int", "ts": "int"}, "must be a timestamp, not int64"),
        ({"member_id": "int", "ts": "timestamp", "recorded_at": "timestamp"}, "set by the store"),
    ],
)
def test_a_bad_declaration_is_refused(store: FactStore, schema: dict, message: str) -> None:
    with pytest.raises(FactSchemaError, match=message):
        store.table("clicks", entity="member_id", event_time="ts", schema=schema)
    assert [t.name for t in store.list_tables()] == ["plays"]


@pytest.mark.parametrize("name", ["../plays", "a/b", "", ".hidden", "plays\n"])
def test_a_table_name_is_a_plain_name(store: FactStore, name: str) -> None:
    with pytest.raises(FactSchemaError, match="is not a fact table name"):
        store.table(name, entity="member_id", event_time="ts", schema=SCHEMA)


# ------------------------------------------------------------------------------- writing


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            plays((1, day(1), 1.0, "a"), (2, day(2), 2.0, "b")).assign(seconds=["1.0", "x"]),
            "column 'seconds', row 1: value 'x' is large_string, not double",
        ),
        (
            plays((1, day(1), 1.0, "a"), (2, day(2), 2.5, "b")).assign(
                member_id=[1.0, 2.5], seconds=[1.0, 2.0]
            ),
            "column 'member_id', row 1: value 2.5 does not fit int64",
        ),
        (
            plays((1, day(1), 1.0, "a")).drop(columns="genre").assign(country="nl"),
            "missing column 'genre'; unknown column 'country'",
        ),
        (
            plays((1, day(1), 1.0, "a"), (2, day(2), 2.0, "b")).assign(ts=[day(1), None]),
            "column 'ts', row 1: value is null",
        ),
        (
            plays((1, day(1), 1.0, "a"), (2, day(1), 2.0, "b"), (1, day(1), 3.0, "c")),
            "rows 0 and 2 are both for member_id=1 at ts=2026-01-01 00:00:00",
        ),
    ],
    ids=["text-for-a-number", "fraction-for-an-integer", "columns", "null-time", "duplicate"],
)
def test_a_write_that_breaks_the_schema_is_refused_with_nothing_written(
    store: FactStore, data: pd.DataFrame, message: str
) -> None:
    with pytest.raises(FactSchemaError, match=message) as refused:
        store.ingest("plays", data)
    assert str(refused.value).endswith("nothing was written")
    assert store.catalogue.list_batches("plays", states=BatchState) == []
    assert list(store.files.table_files("plays")) == []
    assert store.read("plays").empty


def test_each_write_is_one_batch_recorded_strictly_later(store: FactStore) -> None:
    first = store.ingest("plays", plays((1, day(1), 1.0, "a"), (2, day(2), 2.0, "b")))
    second = store.ingest("plays", plays((3, day(3), 3.0, "c")))
    assert first is not None and second is not None
    assert first.recorded_at < second.recorded_at
    assert (first.row_count, first.min_event_time, first.max_event_time) == (2, day(1), day(2))
    read = store.read("plays")
    assert list(read[RECORDED_AT]) == [first.recorded_at] * 2 + [second.recorded_at]
    assert store.ingest("plays", plays()) is None  # nothing to write, nothing recorded


def test_files_are_sorted_and_split_by_entity_bucket(store: FactStore) -> None:
    rows = [(member, day(d), float(d), "g") for d in (3, 1, 2) for member in range(40)]
    store.ingest("plays", plays(*rows))
    scan = store.scan("plays")
    assert 1 < len(scan.files) <= 16
    for path in scan.files:
        table = pq.read_table(path)
        keys = list(zip(table["member_id"].to_pylist(), table["ts"].to_pylist(), strict=True))
        assert keys == sorted(keys)
        assert table.schema.names == ["member_id", "ts", "seconds", "genre", RECORDED_AT]
    just_seven = for_entities(scan, pa.array([7])).files
    assert len(just_seven) == 1
    assert set(pq.read_table(just_seven[0])["member_id"].to_pylist()) >= {7}


def test_arrow_parquet_and_csv_are_ingested_like_pandas(store: FactStore, tmp_path: Path) -> None:
    store.ingest("plays", pa.Table.from_pandas(plays((1, day(1), 1.0, "a"))))
    pq.write_table(pa.Table.from_pandas(plays((2, day(2), 2.0, "b"))), tmp_path / "p.parquet")
    store.ingest("plays", tmp_path / "p.parquet")
    (tmp_path / "p.csv").write_text("member_id,ts,seconds,genre\n3,2026-01-03T00:00:00Z,3,c\n")
    store.ingest("plays", str(tmp_path / "p.csv"))
    assert values(store.read("plays")) == [(1, day(1), 1.0), (2, day(2), 2.0), (3, day(3), 3.0)]
    (tmp_path / "bad.csv").write_text(
        "member_id,ts,seconds,genre\n4,2026-01-04,4,d\nfive,2026-01-05,5,e\n"
    )
    with pytest.raises(FactSchemaError, match="column 'member_id', row 1: value 'five'"):
        store.ingest("plays", tmp_path / "bad.csv")


# ------------------------------------------------------------------------------- reading


def test_a_restatement_is_visible_from_its_recorded_at_on_and_not_before(
    store: FactStore,
) -> None:
    original = store.ingest("plays", plays((1, day(1), 10.0, "a"), (2, day(1), 20.0, "b")))
    restated = store.ingest("plays", plays((1, day(1), 11.0, "a")))
    assert original is not None and restated is not None
    assert values(store.read("plays")) == [(1, day(1), 11.0), (2, day(1), 20.0)]
    just_before = restated.recorded_at - timedelta(microseconds=1)
    assert values(store.read("plays", as_of=just_before)) == [(1, day(1), 10.0), (2, day(1), 20.0)]
    assert values(store.read("plays", as_of=restated.recorded_at))[0] == (1, day(1), 11.0)
    before_anything = original.recorded_at - timedelta(microseconds=1)
    assert store.read("plays", as_of=before_anything).empty
    assert store.scan("plays", as_of=before_anything).files == ()


def test_reads_filter_by_entity_and_a_half_open_event_time_range(store: FactStore) -> None:
    store.ingest(
        "plays", plays(*[(m, day(d), float(10 * m + d), "g") for m in (1, 2, 3) for d in (1, 2, 3)])
    )
    assert values(store.read("plays", [3, 1], start=day(2), end=day(3))) == [
        (1, day(2), 12.0),
        (3, day(2), 32.0),
    ]
    assert values(store.read("plays", [2], start="2026-01-03")) == [(2, day(3), 23.0)]
    assert values(store.read("plays", [2], end=day(1, microseconds=1))) == [(2, day(1), 21.0)]
    assert store.read("plays", [99]).empty
    assert list(store.read("plays", [99]).columns) == [*SCHEMA, RECORDED_AT]


def test_the_module_api_works_on_the_configured_store(home: Home) -> None:
    from shipyard import facts

    facts.table("plays", entity="member_id", event_time="ts", schema=SCHEMA)
    facts.ingest("plays", plays((1, day(1), 1.0, "a")))
    assert values(facts.read("plays")) == [(1, day(1), 1.0)]
    info = facts.describe("plays")
    assert (info.batches, info.rows, info.first_event) == (1, 1, day(1))
    assert facts.scan("plays").files[0].startswith(str(home.root / "store" / "facts" / "plays"))
    assert [t.name for t in facts.list_tables()] == ["plays"]


def test_a_read_as_of_a_moment_waits_for_a_write_recorded_before_it(store: FactStore) -> None:
    store.ingest("plays", plays((1, day(1), 1.0, "a")))
    in_progress = store.catalogue.begin_batch("plays")  # a writer between begin and commit
    written = store.files.write(
        "plays",
        pa.Table.from_pandas(plays((2, day(1), 2.0, "b"))).append_column(
            RECORDED_AT, pa.array([in_progress.recorded_at], pa.timestamp("us", tz="UTC"))
        ),
        entity="member_id",
        sort_by=["member_id"],
        stamp=in_progress.recorded_at,
    )
    store.settle_timeout = 0.1
    with pytest.raises(FactsNotSettled, match=r"batch 2, recorded at .* is still being written"):
        store.read("plays", as_of=in_progress.recorded_at)
    earlier = in_progress.recorded_at - timedelta(microseconds=1)
    assert len(store.read("plays", as_of=earlier)) == 1  # nothing in progress before it

    store.settle_timeout = 30
    reads: list[pd.DataFrame] = []
    reader = threading.Thread(
        target=lambda: reads.append(store.read("plays", as_of=in_progress.recorded_at))
    )
    reader.start()
    time.sleep(0.1)
    assert reader.is_alive()  # waiting for the write: it cannot end before the commit
    store.catalogue.commit_batch(
        "plays", 2, files=written, row_count=1, min_event_time=day(1), max_event_time=day(1)
    )
    reader.join()
    assert list(reads[0].member_id) == [1, 2]  # the read waited and saw the write


def test_compaction_gives_up_a_write_killed_before_its_commit(store: FactStore) -> None:
    store.ingest("plays", plays((1, day(1), 1.0, "a")))
    killed = store.catalogue.begin_batch("plays")
    store.compact("plays", grace=timedelta(0))
    [given_up] = [
        b
        for b in store.catalogue.list_batches("plays", states=BatchState)
        if b.batch_id == killed.batch_id
    ]
    assert given_up.state is BatchState.ABORTED
    assert len(store.read("plays", as_of=datetime.now(UTC))) == 1
