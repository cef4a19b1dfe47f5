"""Specification of the fact catalogue's SQL store, on SQLite and on PostgreSQL: declarations,
the allocation of batch numbers and recorded times, and the states a batch goes through."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from shipyard.exceptions import ObjectNotFound, ShipyardError
from shipyard.metadata import FactCatalogStore, open_metadata
from shipyard.metadata.fact_records import BatchState

SCHEMA = {"member_id": "int64", "ts": "timestamp[us, tz=UTC]", "seconds": "double"}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.service)])
def catalogue(request: pytest.FixtureRequest, db_url: str) -> Iterator[FactCatalogStore]:
    url = db_url if request.param == "sqlite" else request.getfixturevalue("pg_url")
    with open_metadata(url) as metadata:
        yield metadata.facts


def declare(catalogue: FactCatalogStore, name: str = "plays") -> None:
    catalogue.declare_table(
        name, entity="member_id", event_time="ts", schema=SCHEMA, location=None, user="alice"
    )


def commit(catalogue: FactCatalogStore, batch_id: int, *files: str) -> None:
    catalogue.commit_batch(
        "plays", batch_id, files=files, row_count=2, min_event_time=None, max_event_time=None
    )


def test_a_declaration_reads_back_and_the_first_one_is_kept(catalogue: FactCatalogStore) -> None:
    declare(catalogue)
    other = catalogue.declare_table(
        "plays", entity="x", event_time="y", schema={}, location="s3://b/*.parquet", user="bob"
    )
    assert (other.entity, other.schema, other.created_by) == ("member_id", SCHEMA, "alice")
    assert catalogue.get_table("plays") == other
    declare(catalogue, "clicks")
    assert [t.name for t in catalogue.list_tables()] == ["clicks", "plays"]
    with pytest.raises(ObjectNotFound, match="declared tables: clicks, plays"):
        catalogue.get_table("views")


def test_batches_are_numbered_and_recorded_strictly_later(catalogue: FactCatalogStore) -> None:
    declare(catalogue)
    future = datetime.now(UTC) + timedelta(hours=1)
    first = catalogue.begin_batch("plays", at_least=future)
    second = catalogue.begin_batch("plays")  # the clock is behind: still after the first
    assert (first.batch_id, second.batch_id) == (1, 2)
    assert first.recorded_at == future
    assert second.recorded_at == future + timedelta(microseconds=1)
    assert first.state is BatchState.PENDING


def test_concurrent_batches_never_share_a_number_or_a_time(catalogue: FactCatalogStore) -> None:
    declare(catalogue)
    with ThreadPoolExecutor(4) as pool:
        batches = list(pool.map(lambda _: catalogue.begin_batch("plays"), range(12)))
    assert sorted(b.batch_id for b in batches) == list(range(1, 13))
    assert len({b.recorded_at for b in batches}) == 12
    by_number = sorted(batches, key=lambda b: b.batch_id)
    assert [b.recorded_at for b in by_number] == sorted(b.recorded_at for b in batches)


def test_only_committed_batches_are_listed(catalogue: FactCatalogStore) -> None:
    declare(catalogue)
    pending = catalogue.begin_batch("plays")
    assert catalogue.list_batches("plays") == []
    commit(catalogue, pending.batch_id, "facts/plays/a.parquet")
    aborted = catalogue.begin_batch("plays")
    catalogue.abort_batch("plays", aborted.batch_id)
    [visible] = catalogue.list_batches("plays")
    assert visible.files == ("facts/plays/a.parquet",)
    assert visible.state is BatchState.VISIBLE
    with pytest.raises(ShipyardError, match="it is aborted, not pending"):
        commit(catalogue, aborted.batch_id)
    states = {b.batch_id: b.state for b in catalogue.list_batches("plays", states=BatchState)}
    assert states == {1: BatchState.VISIBLE, 2: BatchState.ABORTED}


def test_as_of_lists_the_batches_recorded_by_then(catalogue: FactCatalogStore) -> None:
    declare(catalogue)
    first = catalogue.begin_batch("plays")
    commit(catalogue, first.batch_id, "a")
    second = catalogue.begin_batch("plays")
    commit(catalogue, second.batch_id, "b")
    assert (
        catalogue.list_batches("plays", as_of=first.recorded_at - timedelta(microseconds=1)) == []
    )
    assert [b.files for b in catalogue.list_batches("plays", as_of=first.recorded_at)] == [("a",)]
    assert len(catalogue.list_batches("plays", as_of=second.recorded_at)) == 2


def test_compaction_swaps_batches_for_one_spanning_their_times(
    catalogue: FactCatalogStore,
) -> None:
    declare(catalogue)
    begun = [catalogue.begin_batch("plays") for _ in range(3)]
    for batch in begun:
        commit(catalogue, batch.batch_id, f"f{batch.batch_id}")
    merged = catalogue.replace_batches(
        "plays", [1, 2], files=["m"], row_count=4, min_event_time=None, max_event_time=None
    )
    assert merged.batch_id == 4
    assert (merged.recorded_at, merged.last_recorded_at) == (
        begun[0].recorded_at,
        begun[1].recorded_at,
    )
    assert [b.files for b in catalogue.list_batches("plays")] == [("f3",), ("m",)]
    replaced = catalogue.list_batches("plays", states=[BatchState.REPLACED])
    assert [(b.batch_id, b.replaced_by) for b in replaced] == [(1, 4), (2, 4)]
    assert all(b.replaced_at is not None and b.replaced_at >= merged.recorded_at for b in replaced)
    with pytest.raises(ShipyardError, match=r"batches \[1\] are no longer visible"):
        catalogue.replace_batches(
            "plays", [1, 3], files=["n"], row_count=4, min_event_time=None, max_event_time=None
        )
    assert [b.files for b in catalogue.list_batches("plays")] == [("f3",), ("m",)]


def test_batches_of_an_undeclared_table_are_refused(catalogue: FactCatalogStore) -> None:
    with pytest.raises(ObjectNotFound, match="fact table 'plays' is not declared"):
        catalogue.begin_batch("plays")
    with pytest.raises(ObjectNotFound, match="not declared"):
        catalogue.list_batches("plays")


def test_only_replaced_or_aborted_batches_are_forgotten(catalogue: FactCatalogStore) -> None:
    declare(catalogue)
    for _ in range(3):
        commit(catalogue, catalogue.begin_batch("plays").batch_id, "f")
    catalogue.replace_batches(
        "plays", [1, 2], files=["m"], row_count=4, min_event_time=None, max_event_time=None
    )
    aborted = catalogue.begin_batch("plays")
    catalogue.abort_batch("plays", aborted.batch_id)
    assert catalogue.forget_batches("plays", [1, 2, 3, 4, aborted.batch_id]) == 3
    remaining = catalogue.list_batches("plays", states=BatchState)
    assert [(b.batch_id, b.state) for b in remaining] == [
        (3, BatchState.VISIBLE),
        (4, BatchState.VISIBLE),
    ]


def test_files_registered_at_once_by_many_are_listed_once(catalogue: FactCatalogStore) -> None:
    declare(catalogue)
    files = {f"/warehouse/day{n}.parquet": n for n in range(1, 4)}
    with ThreadPoolExecutor(4) as pool:
        batches = list(pool.map(lambda _: catalogue.register_files("plays", files), range(4)))
    [registered] = [batch for batch in batches if batch is not None]
    assert registered.state is BatchState.VISIBLE
    assert (registered.files, registered.row_count) == (tuple(files), 6)
    more = catalogue.register_files("plays", {**files, "/warehouse/day4.parquet": 4})
    assert more is not None and (more.files, more.row_count) == (("/warehouse/day4.parquet",), 4)
    assert more.recorded_at > registered.recorded_at
    assert [b.files for b in catalogue.list_batches("plays")] == [registered.files, more.files]
