"""The direct SQLite reader behind listings: identical to the metadata store, or not used."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from shipyard.metadata.migrations import HEAD_REVISION
from shipyard.metadata.run_index import INDEX_REVISION, SQLiteRunIndex, open_run_index

from .conftest import History


def metadata_file(history: History) -> Path:
    return history.root / "metadata.db"


def index_of(history: History) -> SQLiteRunIndex:
    index = open_run_index(f"sqlite:///{metadata_file(history)}")
    assert index is not None
    return index


def test_the_index_was_written_for_the_current_schema_revision() -> None:
    # If this fails, a migration changed the schema: review the queries in run_index.py
    # against it, then move INDEX_REVISION to the new head.
    assert INDEX_REVISION == HEAD_REVISION


def test_listed_runs_equal_the_metadata_stores_records(history: History) -> None:
    history.successful_run(tags=["prod", "v2"])
    history.failed_run()
    history.successful_run("OtherFlow", user="bob")
    resumed = history.metadata.create_run(
        "TrainFlow",
        "alice",
        parameters={"none": None, "nested": {"a": [1]}},
        origin_run_id="1",
        runner_host="worker-3",
        runner_pid=4242,
    )
    history.metadata.add_tags("TrainFlow", resumed, ["resumed"])
    assert index_of(history).list_runs() == history.metadata.list_runs()


def test_filters_by_flow_tags_and_limit_like_the_metadata_store(history: History) -> None:
    for tags in (["prod"], ["prod", "v2"], [], ["prod", "v2"]):
        history.successful_run(tags=tags)
    history.successful_run("OtherFlow", tags=["prod"])
    index = index_of(history)
    for flow in ("TrainFlow", None):
        for tags in ([], ["prod"], ["prod", "v2"], ["user:alice", "v2"], ["absent"]):
            for limit in (None, 1, 2):
                expected = history.metadata.list_runs(flow, tags=tags, limit=limit)
                assert index.list_runs(flow, tags=tags, limit=limit) == expected


def test_lists_flows_like_the_metadata_store(history: History) -> None:
    history.successful_run("TrainFlow")
    history.successful_run("AFlow")
    assert index_of(history).list_flows() == history.metadata.list_flows() == ["AFlow", "TrainFlow"]


def test_is_not_used_before_the_database_exists(tmp_path: Path) -> None:
    assert open_run_index(f"sqlite:///{tmp_path / 'absent.db'}") is None


def test_is_not_used_for_a_database_at_another_revision(history: History) -> None:
    history.successful_run()
    history.metadata.close()
    with sqlite3.connect(metadata_file(history)) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    assert open_run_index(f"sqlite:///{metadata_file(history)}") is None


def test_is_not_used_for_a_file_that_is_not_a_shipyard_database(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    other.write_bytes(b"not a database at all, just bytes")
    assert open_run_index(f"sqlite:///{other}") is None


def test_is_not_used_for_urls_sqlalchemy_would_interpret(history: History) -> None:
    path = metadata_file(history)
    history.successful_run()
    assert open_run_index(f"sqlite:///{path}?timeout=5") is None
    assert open_run_index("sqlite:///:memory:") is None
    assert open_run_index("postgresql://db.example/shipyard") is None
