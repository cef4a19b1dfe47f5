"""The metadata store's core lifecycle against a real PostgreSQL server.

The server is the one `SHIPYARD_TEST_POSTGRES_URL` names, or else a throwaway one the
suite starts from the system's PostgreSQL binaries (see `tests/postgres_server.py`). Each
test works in a fresh schema of its own that is dropped afterwards, so a server may be
shared.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import IntegrityError

from shipyard.datastore.refs import ArtifactRef
from shipyard.metadata import MetadataBackend, MetadataIntegrityError, open_metadata
from shipyard.metadata.records import RunStatus, TaskStatus

from ..waiting import Contenders, Span, assert_inside_at_once

pytestmark = pytest.mark.service

FLOW = "TrainFlow"


@pytest.fixture
def store(pg_url: str) -> Iterator[MetadataBackend]:
    metadata = open_metadata(pg_url)
    yield metadata
    metadata.close()


def ref(sha: str) -> ArtifactRef:
    return ArtifactRef(sha256=sha, type_name="builtins.int", size=3_000_000_000, encoding="pickle")


def test_core_lifecycle_on_postgresql(store: MetadataBackend) -> None:
    run_id = store.create_run(FLOW, "alice", tags=["nightly"], parameters={"alpha": 0.5})
    store.start_task(FLOW, run_id, "start", "1", attempt=0, foreach_stack=(), input_paths=())
    store.finish_task(
        FLOW,
        run_id,
        "start",
        "1",
        attempt=0,
        status=TaskStatus.SUCCEEDED,
        artifacts={"model": ref("aa")},
        stdout_hash="out",
        stderr_hash="err",
        exit_code=0,
        error=None,
    )
    store.start_task(FLOW, run_id, "train", "2", attempt=0, foreach_stack=(), input_paths=())
    store.fail_running_tasks(FLOW, run_id, "worker died")
    store.finish_run(FLOW, run_id, RunStatus.FAILED)

    run = store.get_run(FLOW, run_id)
    assert (run.status, run.parameters, run.tags) == (RunStatus.FAILED, {"alpha": 0.5}, {"nightly"})
    assert run.created_at.tzinfo is not None
    assert [r.run_id for r in store.list_runs(tags=["nightly", "user:alice"])] == [run_id]
    assert store.list_steps(FLOW, run_id) == ["start", "train"]
    assert store.get_task(FLOW, run_id, "train", "2").status is TaskStatus.FAILED
    assert store.artifacts_of_run(FLOW, run_id)[("start", "1")]["model"].ref == ref("aa")
    assert store.referenced_hashes() == {"aa", "out", "err"}

    resumed = store.create_run(FLOW, "alice", origin_run_id=run_id)
    origin = store.get_task(FLOW, run_id, "start", "1")
    store.clone_task(
        FLOW,
        resumed,
        "start",
        "1",
        origin=origin,
        artifacts={"model": ref("aa")},
        foreach_stack=(),
        input_paths=(),
    )
    assert store.get_task(FLOW, resumed, "start", "1").origin_pathspec == origin.pathspec


def test_retry_reuses_the_task_on_postgresql(store: MetadataBackend) -> None:
    run_id = store.create_run(FLOW, "alice")
    for attempt, status in [(0, TaskStatus.FAILED), (1, TaskStatus.SUCCEEDED)]:
        store.start_task(
            FLOW, run_id, "train", "1", attempt=attempt, foreach_stack=(), input_paths=()
        )
        store.finish_task(
            FLOW,
            run_id,
            "train",
            "1",
            attempt=attempt,
            status=status,
            artifacts={"model": ref(f"h{attempt}")},
            stdout_hash=None,
            stderr_hash=None,
            exit_code=0,
            error=None,
        )

    (task,) = store.list_tasks(FLOW, run_id)
    assert task.status is TaskStatus.SUCCEEDED
    assert [(a.attempt, a.status) for a in task.attempts] == [
        (0, TaskStatus.FAILED),
        (1, TaskStatus.SUCCEEDED),
    ]
    assert store.task_artifacts(FLOW, run_id, "train", "1")["model"].ref == ref("h1")


def test_finish_task_is_atomic_on_postgresql(store: MetadataBackend) -> None:
    run_id = store.create_run(FLOW, "alice")
    store.start_task(FLOW, run_id, "start", "1", attempt=0, foreach_stack=(), input_paths=())
    broken = ArtifactRef(sha256=None, type_name="int", size=1, encoding="pickle")  # type: ignore[arg-type]

    with pytest.raises(MetadataIntegrityError) as refused:
        store.finish_task(
            FLOW,
            run_id,
            "start",
            "1",
            attempt=0,
            status=TaskStatus.SUCCEEDED,
            artifacts={"good": ref("bb"), "bad": broken},
            stdout_hash=None,
            stderr_hash=None,
            exit_code=0,
            error=None,
        )
    assert isinstance(refused.value.__cause__, IntegrityError)  # the database's own refusal

    assert store.get_task(FLOW, run_id, "start", "1").status is TaskStatus.RUNNING
    assert store.task_artifacts(FLOW, run_id, "start", "1") == {}


def test_migrated_schema_matches_the_models_on_postgresql(
    store: MetadataBackend, pg_url: str
) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from shipyard.metadata.models import Base

    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


_CREATOR = textwrap.dedent(
    """
    import json, sys, time
    from shipyard.metadata import open_metadata
    url = sys.argv[1]
    print("ready", flush=True); sys.stdin.readline()  # both create the schema at once
    began = time.time()
    store = open_metadata(url)
    opened = time.time()
    run_ids = [store.create_run("Flow", "worker") for _ in range(10)]
    print(json.dumps({"open": [began, opened], "runs": run_ids}))
    store.close()
    """
)


def test_two_processes_create_the_schema_concurrently_on_postgresql(pg_url: str) -> None:
    with Contenders([[sys.executable, "-c", _CREATOR, pg_url]] * 2) as creators:
        creators.start()
        outputs = [json.loads(lines[-1]) for lines in creators.results()]

    assert_inside_at_once([Span(*out["open"]) for out in outputs], "open_metadata")
    run_ids = [run_id for out in outputs for run_id in out["runs"]]
    assert len(set(run_ids)) == 20
