"""The fast SQLite listing (`SQLiteRunIndex`, a `RunLister`): used at the head revision, and
answering exactly what the SQL backend answers for the same database.

These tests are what keeps the index correct across migrations: a migration that changes what
the index reads makes them fail, instead of `shipyard runs` silently falling back to the slower
SQL backend or listing something else.
"""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command

from shipyard.client.context import ClientContext
from shipyard.exceptions import ShipyardError
from shipyard.metadata import MetadataBackend, RunLister, RunStatus, TaskStatus, open_metadata
from shipyard.metadata.liveness import shown_status
from shipyard.metadata.migrations import HEAD_REVISION, alembic_config
from shipyard.metadata.run_index import SQLiteRunIndex, open_run_index

FLOW = "TrainFlow"


def database_file(db_url: str) -> Path:
    return Path(db_url.removeprefix("sqlite:///"))


def index_of(db_url: str) -> SQLiteRunIndex:
    index = open_run_index(db_url)
    assert index is not None, "the fast index was not used for a database at the head revision"
    return index


def dead_pid() -> int:
    """The pid of a process that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def finished_run(
    store: MetadataBackend,
    flow: str = FLOW,
    *,
    user: str = "alice",
    tags: list[str] | None = None,
    status: RunStatus = RunStatus.SUCCEEDED,
) -> str:
    run_id = store.create_run(flow, user, tags=tags or [], parameters={"alpha": 0.5})
    store.start_task(flow, run_id, "start", "1", attempt=0, foreach_stack=(), input_paths=())
    task_status = TaskStatus.SUCCEEDED if status is RunStatus.SUCCEEDED else TaskStatus.FAILED
    store.finish_task(
        flow,
        run_id,
        "start",
        "1",
        attempt=0,
        status=task_status,
        artifacts={},
        stdout_hash=None,
        stderr_hash=None,
        exit_code=0 if task_status is TaskStatus.SUCCEEDED else 1,
        error=None,
    )
    store.finish_run(flow, run_id, status)
    return run_id


def a_varied_history(store: MetadataBackend) -> None:
    """Runs of two flows and two users with every status, tags, parameters and a resume."""
    finished_run(store, tags=["prod", "v2"])
    finished_run(store, status=RunStatus.FAILED)
    finished_run(store, "OtherFlow", user="bob", tags=["prod"])
    store.create_run(FLOW, "alice", runner_host=socket.gethostname(), runner_pid=dead_pid())
    store.create_run(FLOW, "bob", runner_host="elsewhere", runner_pid=1, tags=["v2"])
    resumed = store.create_run(
        FLOW,
        "alice",
        parameters={"none": None, "nested": {"a": [1]}},
        origin_run_id="1",
        runner_host="worker-3",
        runner_pid=4242,
    )
    store.add_tags(FLOW, resumed, ["resumed", "prod"])
    store.set_code_hash(FLOW, resumed, "ab" * 32)
    for tags in (["prod"], ["prod", "v2"], []):
        finished_run(store, tags=tags)


def test_the_index_is_used_at_the_head_revision(store: MetadataBackend, db_url: str) -> None:
    finished_run(store)

    assert index_of(db_url).revision() == HEAD_REVISION
    context = ClientContext(str(database_file(db_url).parent / "store"), db_url)
    assert isinstance(context.listing, SQLiteRunIndex)


def test_the_index_declares_the_run_listing_contract() -> None:
    assert RunLister in SQLiteRunIndex.__mro__  # mypy checks it against the Protocol


def test_listed_runs_equal_the_sql_backends_records(store: MetadataBackend, db_url: str) -> None:
    a_varied_history(store)

    listed = index_of(db_url).list_runs()

    assert listed == store.list_runs()
    assert [run.run_id for run in listed] == [str(n) for n in range(9, 0, -1)]


def test_shown_statuses_including_lost_are_the_same(store: MetadataBackend, db_url: str) -> None:
    a_varied_history(store)

    shown = [shown_status(run) for run in index_of(db_url).list_runs()]

    assert shown == [shown_status(run) for run in store.list_runs()]
    assert {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.RUNNING, RunStatus.LOST} <= set(shown)


def test_filters_by_flow_tags_and_limit_like_the_sql_backend(
    store: MetadataBackend, db_url: str
) -> None:
    a_varied_history(store)
    index = index_of(db_url)
    for flow in (FLOW, "OtherFlow", "NoSuchFlow", None):
        for tags in ([], ["prod"], ["prod", "v2"], ["user:alice", "v2"], ["user:bob"], ["absent"]):
            for limit in (None, 0, 1, 2):
                expected = store.list_runs(flow, tags=tags, limit=limit)
                assert index.list_runs(flow, tags=tags, limit=limit) == expected


def test_pages_through_runs_like_the_sql_backend(store: MetadataBackend, db_url: str) -> None:
    a_varied_history(store)
    index = index_of(db_url)
    for flow, tags in ((None, []), (FLOW, []), (FLOW, ["prod"])):
        everything = store.list_runs(flow, tags=tags)
        paged: list = []
        after = None
        while True:
            page = index.list_runs(flow, tags=tags, limit=2, after=after)
            assert page == store.list_runs(flow, tags=tags, limit=2, after=after)
            if not page:
                break
            paged.extend(page)
            after = page[-1].run_id
        assert paged == everything


def test_a_cursor_that_is_no_run_id_is_refused_alike(store: MetadataBackend, db_url: str) -> None:
    finished_run(store)
    for lister in (index_of(db_url), store):
        with pytest.raises(ShipyardError, match="not a run id"):
            lister.list_runs(after="latest")


def test_lists_flows_like_the_sql_backend(store: MetadataBackend, db_url: str) -> None:
    finished_run(store, FLOW)
    finished_run(store, "AFlow")

    assert index_of(db_url).list_flows() == store.list_flows() == ["AFlow", FLOW]


def test_an_older_database_is_migrated_by_the_backend_then_indexed(
    store: MetadataBackend, db_url: str
) -> None:
    a_varied_history(store)
    before = store.list_runs()
    store.close()
    command.downgrade(alembic_config(db_url), "0003")

    assert open_run_index(db_url) is None  # the index never reads a schema it was not made for
    context = ClientContext(str(database_file(db_url).parent / "store"), db_url)
    assert context.listing is context.metadata  # the backend, which migrates on opening
    context.close()

    listed = index_of(db_url).list_runs()
    assert [run.run_id for run in listed] == [run.run_id for run in before]
    with open_metadata(db_url) as reopened:
        assert listed == reopened.list_runs()


def test_a_newer_database_is_not_indexed_and_refused_by_the_backend(
    store: MetadataBackend, db_url: str
) -> None:
    finished_run(store)
    store.close()
    with sqlite3.connect(database_file(db_url)) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")

    assert open_run_index(db_url) is None
    with pytest.raises(ShipyardError, match="cannot migrate the metadata database"):
        open_metadata(db_url)


def test_is_not_used_before_the_database_exists(tmp_path: Path) -> None:
    assert open_run_index(f"sqlite:///{tmp_path / 'absent.db'}") is None


def test_is_not_used_for_a_file_that_is_not_a_shipyard_database(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    other.write_bytes(b"not a database at all, just bytes")
    assert open_run_index(f"sqlite:///{other}") is None


def test_is_not_used_for_urls_sqlalchemy_would_interpret(
    store: MetadataBackend, db_url: str
) -> None:
    finished_run(store)
    assert open_run_index(f"{db_url}?timeout=5") is None
    assert open_run_index("sqlite:///:memory:") is None
    assert open_run_index("postgresql://db.example/shipyard") is None
