"""Specification of the SQL metadata backend on a real SQLite file: writes, reads, errors."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from shipyard.datastore.refs import ArtifactRef
from shipyard.exceptions import ObjectNotFound, ParameterError, ShipyardError
from shipyard.metadata import (
    FinishedTask,
    ForeachFrame,
    MetadataBackend,
    MetadataIntegrityError,
    RunStatus,
    StartedTask,
    TaskStatus,
    open_metadata,
)

from ..waiting import Contenders, Span, assert_inside_at_once

FLOW = "TrainFlow"


def ref(sha: str, size: int = 10) -> ArtifactRef:
    return ArtifactRef(sha256=sha, type_name="builtins.int", size=size, encoding="pickle")


def start(store: MetadataBackend, run_id: str, step: str, task_id: str, attempt: int = 0) -> None:
    store.start_task(FLOW, run_id, step, task_id, attempt=attempt, foreach_stack=(), input_paths=())


def finish(
    store: MetadataBackend,
    run_id: str,
    step: str,
    task_id: str,
    *,
    status: TaskStatus = TaskStatus.SUCCEEDED,
    artifacts: dict[str, ArtifactRef] | None = None,
    attempt: int = 0,
    stdout_hash: str | None = "out-hash",
) -> None:
    store.finish_task(
        FLOW,
        run_id,
        step,
        task_id,
        attempt=attempt,
        status=status,
        artifacts=artifacts or {},
        stdout_hash=stdout_hash,
        stderr_hash="err-hash",
        exit_code=0 if status is TaskStatus.SUCCEEDED else 1,
        error=None if status is TaskStatus.SUCCEEDED else "ValueError: boom",
    )


# ---------------------------------------------------------------------------------- runs


def test_create_run_records_user_tags_system_tags_and_parameters(store: MetadataBackend) -> None:
    run_id = store.create_run(
        FLOW, "alice", tags=["nightly", "v2"], parameters={"alpha": 0.5, "layers": [1, 2]}
    )

    run = store.get_run(FLOW, run_id)
    assert run.pathspec == f"{FLOW}/{run_id}"
    assert run.user == "alice"
    assert run.status is RunStatus.RUNNING
    assert run.finished_at is None
    assert run.tags == {"nightly", "v2"}
    assert run.system_tags == {"user:alice", f"flow:{FLOW}"}
    assert run.parameters == {"alpha": 0.5, "layers": [1, 2]}
    assert store.list_flows() == [FLOW]


def test_run_ids_are_distinct_numeric_strings_across_flows(store: MetadataBackend) -> None:
    ids = [store.create_run(flow, "alice") for flow in ("A", "B", "A", "C")]

    assert len(set(ids)) == 4
    assert all(run_id.isdigit() for run_id in ids)


def test_create_run_records_code_hash_and_resume_origin(store: MetadataBackend) -> None:
    origin = store.create_run(FLOW, "alice")

    run_id = store.create_run(FLOW, "alice", code_hash="code-1", origin_run_id=origin)
    store.set_code_hash(FLOW, origin, "code-0")

    assert store.get_run(FLOW, run_id).code_hash == "code-1"
    assert store.get_run(FLOW, run_id).origin_run_id == origin
    assert store.get_run(FLOW, origin).code_hash == "code-0"


def test_a_run_is_resumed_by_one_live_resume_at_a_time(store: MetadataBackend) -> None:
    origin = store.create_run(FLOW, "alice")
    store.finish_run(FLOW, origin, RunStatus.FAILED)
    here = {"runner_host": socket.gethostname(), "runner_pid": os.getpid()}
    first = store.create_run(FLOW, "alice", origin_run_id=origin, **here)

    with pytest.raises(ShipyardError, match=f"already being resumed as {FLOW}/{first}"):
        store.create_run(FLOW, "bob", origin_run_id=origin, **here)
    assert [run.run_id for run in store.list_runs(FLOW)] == [first, origin]

    store.finish_run(FLOW, first, RunStatus.FAILED)  # once it has ended, again
    assert store.create_run(FLOW, "bob", origin_run_id=origin, **here)


def test_a_resume_whose_runner_died_does_not_block_the_next(store: MetadataBackend) -> None:
    origin = store.create_run(FLOW, "alice")
    store.finish_run(FLOW, origin, RunStatus.FAILED)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    host = socket.gethostname()
    store.create_run(FLOW, "alice", origin_run_id=origin, runner_host=host, runner_pid=gone.pid)

    assert store.create_run(
        FLOW, "bob", origin_run_id=origin, runner_host=host, runner_pid=os.getpid()
    )


def test_parameters_that_are_not_json_are_refused_before_anything_is_written(
    store: MetadataBackend,
) -> None:
    with pytest.raises(ParameterError, match=r"parameter 'when'.*JSON"):
        store.create_run(FLOW, "alice", parameters={"when": object()})

    assert store.list_runs() == []


def test_finish_run_sets_status_and_end_time(store: MetadataBackend) -> None:
    run_id = store.create_run(FLOW, "alice")

    store.finish_run(FLOW, run_id, RunStatus.SUCCEEDED)

    run = store.get_run(FLOW, run_id)
    assert run.status is RunStatus.SUCCEEDED
    assert run.finished_at is not None
    assert run.finished_at >= run.created_at


def test_timestamps_are_timezone_aware_utc(store: MetadataBackend) -> None:
    run_id = store.create_run(FLOW, "alice")
    start(store, run_id, "start", "1")

    assert store.get_run(FLOW, run_id).created_at.tzinfo is UTC
    assert store.get_task(FLOW, run_id, "start", "1").attempts[0].started_at.tzinfo is UTC


def test_list_runs_is_newest_first_and_honours_limit(store: MetadataBackend) -> None:
    ids = [store.create_run(FLOW, "alice") for _ in range(4)]
    store.create_run("OtherFlow", "alice")

    assert [r.run_id for r in store.list_runs(FLOW)] == ids[::-1]
    assert [r.run_id for r in store.list_runs(FLOW, limit=2)] == ids[:1:-1]
    assert len(store.list_runs()) == 5


def test_list_runs_keeps_runs_having_all_requested_tags(store: MetadataBackend) -> None:
    both = store.create_run(FLOW, "alice", tags=["prod", "gpu"])
    store.create_run(FLOW, "alice", tags=["prod"])
    by_bob = store.create_run(FLOW, "bob", tags=["prod", "gpu"])

    assert [r.run_id for r in store.list_runs(FLOW, tags=["prod", "gpu"])] == [by_bob, both]
    assert [r.run_id for r in store.list_runs(tags=["gpu", "user:alice"])] == [both]
    assert store.list_runs(tags=["prod", "missing"]) == []


# --------------------------------------------------------------------------------- tasks


def test_task_lifecycle_start_then_finish_records_attempt_and_artifacts(
    store: MetadataBackend,
) -> None:
    run_id = store.create_run(FLOW, "alice")
    frame = ForeachFrame(step="split", var="shard", index=1, num_splits=3)
    store.start_task(
        FLOW,
        run_id,
        "train",
        "7",
        attempt=0,
        foreach_stack=[frame],
        input_paths=[f"{FLOW}/{run_id}/split/2"],
    )

    running = store.get_task(FLOW, run_id, "train", "7")
    assert running.status is TaskStatus.RUNNING
    assert running.attempts[0].status is TaskStatus.RUNNING
    assert store.task_artifacts(FLOW, run_id, "train", "7") == {}

    finish(store, run_id, "train", "7", artifacts={"model": ref("aa", 123), "score": ref("bb")})

    task = store.get_task(FLOW, run_id, "train", "7")
    assert task.status is TaskStatus.SUCCEEDED
    assert task.finished_at is not None
    assert task.foreach_stack == (frame,)
    assert task.input_paths == (f"{FLOW}/{run_id}/split/2",)
    (attempt,) = task.attempts
    assert (attempt.status, attempt.exit_code, attempt.stdout_hash, attempt.stderr_hash) == (
        TaskStatus.SUCCEEDED,
        0,
        "out-hash",
        "err-hash",
    )
    artifacts = store.task_artifacts(FLOW, run_id, "train", "7")
    assert artifacts["model"].ref == ref("aa", 123)
    assert artifacts["model"].attempt == 0
    assert set(artifacts) == {"model", "score"}


def test_retry_adds_an_attempt_to_the_same_task(store: MetadataBackend) -> None:
    run_id = store.create_run(FLOW, "alice")
    start(store, run_id, "train", "1")
    finish(store, run_id, "train", "1", status=TaskStatus.FAILED)

    start(store, run_id, "train", "1", attempt=1)
    finish(store, run_id, "train", "1", attempt=1, artifacts={"x": ref("cc")})

    task = store.get_task(FLOW, run_id, "train", "1")
    assert task.status is TaskStatus.SUCCEEDED
    assert [(a.attempt, a.status) for a in task.attempts] == [
        (0, TaskStatus.FAILED),
        (1, TaskStatus.SUCCEEDED),
    ]
    assert task.attempts[0].error == "ValueError: boom"
    assert store.task_artifacts(FLOW, run_id, "train", "1")["x"].attempt == 1
    assert len(store.list_tasks(FLOW, run_id)) == 1


def test_starting_the_same_attempt_twice_is_refused(store: MetadataBackend) -> None:
    run_id = store.create_run(FLOW, "alice")
    start(store, run_id, "train", "1")

    with pytest.raises(ShipyardError, match=r"attempt 0 .* already started"):
        start(store, run_id, "train", "1")


def test_failed_task_records_no_artifacts(store: MetadataBackend) -> None:
    run_id = store.create_run(FLOW, "alice")
    start(store, run_id, "train", "1")

    finish(store, run_id, "train", "1", status=TaskStatus.FAILED, artifacts={"x": ref("dd")})

    assert store.get_task(FLOW, run_id, "train", "1").status is TaskStatus.FAILED
    assert store.task_artifacts(FLOW, run_id, "train", "1") == {}


def test_finish_task_commits_status_and_artifacts_together_or_not_at_all(
    store: MetadataBackend,
) -> None:
    run_id = store.create_run(FLOW, "alice")
    start(store, run_id, "train", "1")
    # The artifact insert breaks a NOT NULL constraint after the same transaction has already
    # updated the attempt and task rows.
    broken = ArtifactRef(sha256=None, type_name="int", size=1, encoding="pickle")  # type: ignore[arg-type]

    with pytest.raises(MetadataIntegrityError) as refused:
        finish(store, run_id, "train", "1", artifacts={"good": ref("ee"), "bad": broken})
    assert isinstance(refused.value.__cause__, IntegrityError)  # the database's own refusal

    task = store.get_task(FLOW, run_id, "train", "1")
    assert task.status is TaskStatus.RUNNING
    assert task.finished_at is None
    assert task.attempts[0].status is TaskStatus.RUNNING
    assert task.attempts[0].stdout_hash is None
    assert store.task_artifacts(FLOW, run_id, "train", "1") == {}
    assert "ee" not in store.referenced_hashes()


def test_finishing_an_attempt_that_never_started_is_refused(store: MetadataBackend) -> None:
    run_id = store.create_run(FLOW, "alice")
    start(store, run_id, "train", "1")

    with pytest.raises(ObjectNotFound, match=r"attempt 3 of task .* was never started"):
        finish(store, run_id, "train", "1", attempt=3)


def test_a_finish_that_failed_can_be_repeated(store: MetadataBackend) -> None:
    run_id = store.create_run(FLOW, "alice")
    start(store, run_id, "train", "1")
    broken = ArtifactRef(sha256=None, type_name="int", size=1, encoding="pickle")  # type: ignore[arg-type]
    with pytest.raises(MetadataIntegrityError) as refused:
        finish(store, run_id, "train", "1", artifacts={"bad": broken})
    assert isinstance(refused.value.__cause__, IntegrityError)

    finish(store, run_id, "train", "1", artifacts={"good": ref("ee")})

    assert store.get_task(FLOW, run_id, "train", "1").status is TaskStatus.SUCCEEDED
    assert set(store.task_artifacts(FLOW, run_id, "train", "1")) == {"good"}


def finished(task_id: str, run_id: str, **artifacts: ArtifactRef) -> FinishedTask:
    return FinishedTask(
        FLOW,
        run_id,
        "train",
        task_id,
        attempt=0,
        status=TaskStatus.SUCCEEDED,
        artifacts=artifacts,
        stdout_hash=None,
        stderr_hash=None,
        exit_code=0,
        error=None,
    )


def test_record_tasks_finishes_several_tasks_in_one_call(store: MetadataBackend) -> None:
    run_id = store.create_run(FLOW, "alice")
    for task_id in ("1", "2", "3"):
        start(store, run_id, "train", task_id)

    store.record_tasks(
        [finished("1", run_id, x=ref("a1")), finished("2", run_id), finished("3", run_id)]
    )

    tasks = store.list_tasks(FLOW, run_id)
    assert [t.status for t in tasks] == [TaskStatus.SUCCEEDED] * 3
    assert store.artifacts_of_run(FLOW, run_id) == {
        ("train", "1"): store.task_artifacts(FLOW, run_id, "train", "1")
    }
    assert store.task_artifacts(FLOW, run_id, "train", "1")["x"].ref == ref("a1")


def test_record_tasks_records_all_of_a_batch_of_finishes_or_none(store: MetadataBackend) -> None:
    run_id = store.create_run(FLOW, "alice")
    for task_id in ("1", "2"):
        start(store, run_id, "train", task_id)
    broken = ArtifactRef(sha256=None, type_name="int", size=1, encoding="pickle")  # type: ignore[arg-type]

    with pytest.raises(MetadataIntegrityError):
        store.record_tasks([finished("1", run_id, x=ref("a1")), finished("2", run_id, y=broken)])

    assert [t.status for t in store.list_tasks(FLOW, run_id)] == [TaskStatus.RUNNING] * 2
    assert store.artifacts_of_run(FLOW, run_id) == {}
    store.record_tasks([finished("1", run_id, x=ref("a1")), finished("2", run_id)])
    assert [t.status for t in store.list_tasks(FLOW, run_id)] == [TaskStatus.SUCCEEDED] * 2


def test_record_tasks_refuses_an_unfinished_status_before_writing(store: MetadataBackend) -> None:
    run_id = store.create_run(FLOW, "alice")
    start(store, run_id, "train", "1")
    running = dataclasses.replace(finished("1", run_id), status=TaskStatus.RUNNING)

    with pytest.raises(ShipyardError, match="succeeded or failed, not running"):
        store.record_tasks([finished("1", run_id), running])

    assert store.get_task(FLOW, run_id, "train", "1").status is TaskStatus.RUNNING


def started(task_id: str, run_id: str, attempt: int = 0) -> StartedTask:
    return StartedTask(
        FLOW, run_id, "train", task_id, attempt=attempt, foreach_stack=(), input_paths=()
    )


def test_record_tasks_records_a_round_of_finishes_and_starts_in_order(
    store: MetadataBackend,
) -> None:
    run_id = store.create_run(FLOW, "alice")
    start(store, run_id, "train", "1")
    start(store, run_id, "train", "2")
    failed = dataclasses.replace(finished("2", run_id), status=TaskStatus.FAILED, error="boom")

    store.record_tasks(
        [
            finished("1", run_id, x=ref("a1")),
            failed,
            started("2", run_id, attempt=1),  # the retry of the attempt that just failed
            started("3", run_id),
            started("4", run_id),
            finished("4", run_id, y=ref("b4")),  # started and finished in one call
        ]
    )

    tasks = {t.task_id: t for t in store.list_tasks(FLOW, run_id)}
    assert {k: t.status for k, t in tasks.items()} == {
        "1": TaskStatus.SUCCEEDED,
        "2": TaskStatus.RUNNING,
        "3": TaskStatus.RUNNING,
        "4": TaskStatus.SUCCEEDED,
    }
    assert [(a.attempt, a.status) for a in tasks["2"].attempts] == [
        (0, TaskStatus.FAILED),
        (1, TaskStatus.RUNNING),
    ]
    assert set(store.artifacts_of_run(FLOW, run_id)) == {("train", "1"), ("train", "4")}
    finish(store, run_id, "train", "2", attempt=1)
    finish(store, run_id, "train", "3")
    assert {t.status for t in store.list_tasks(FLOW, run_id)} == {TaskStatus.SUCCEEDED}


def test_record_tasks_records_all_of_the_round_or_none(store: MetadataBackend) -> None:
    run_id = store.create_run(FLOW, "alice")
    start(store, run_id, "train", "1")

    with pytest.raises(ShipyardError, match=r"attempt 0 of task .* was already started"):
        store.record_tasks(
            [finished("1", run_id, x=ref("a1")), started("2", run_id), started("1", run_id)]
        )

    assert [(t.task_id, t.status) for t in store.list_tasks(FLOW, run_id)] == [
        ("1", TaskStatus.RUNNING)
    ]
    assert store.artifacts_of_run(FLOW, run_id) == {}
    store.record_tasks([finished("1", run_id, x=ref("a1")), started("2", run_id)])
    assert [(t.task_id, t.status) for t in store.list_tasks(FLOW, run_id)] == [
        ("1", TaskStatus.SUCCEEDED),
        ("2", TaskStatus.RUNNING),
    ]


def test_a_task_started_by_one_store_is_finished_by_another(
    store: MetadataBackend, db_url: str
) -> None:
    run_id = store.create_run(FLOW, "alice")
    start(store, run_id, "train", "1")

    with open_metadata(db_url) as other:
        finish(other, run_id, "train", "1", status=TaskStatus.FAILED)
        start(other, run_id, "train", "1", attempt=1)
    finish(store, run_id, "train", "1", attempt=1, artifacts={"x": ref("aa")})

    task = store.get_task(FLOW, run_id, "train", "1")
    assert [(a.attempt, a.status) for a in task.attempts] == [
        (0, TaskStatus.FAILED),
        (1, TaskStatus.SUCCEEDED),
    ]
    assert store.task_artifacts(FLOW, run_id, "train", "1")["x"].attempt == 1


def test_clone_task_records_a_succeeded_copy_pointing_at_its_origin(
    store: MetadataBackend,
) -> None:
    origin_run = store.create_run(FLOW, "alice")
    start(store, origin_run, "train", "4")
    finish(store, origin_run, "train", "4", artifacts={"model": ref("ff")})
    origin = store.get_task(FLOW, origin_run, "train", "4")
    resumed = store.create_run(FLOW, "alice", origin_run_id=origin_run)

    store.clone_task(
        FLOW,
        resumed,
        "train",
        "4",
        origin=origin,
        artifacts={"model": ref("ff")},
        foreach_stack=(),
        input_paths=[f"{FLOW}/{resumed}/start/1"],
    )

    clone = store.get_task(FLOW, resumed, "train", "4")
    assert clone.status is TaskStatus.SUCCEEDED
    assert clone.origin_pathspec == f"{FLOW}/{origin_run}/train/4"
    assert clone.input_paths == (f"{FLOW}/{resumed}/start/1",)
    (attempt,) = clone.attempts
    assert attempt.status is TaskStatus.SUCCEEDED
    assert (attempt.stdout_hash, attempt.stderr_hash) == ("out-hash", "err-hash")
    assert store.task_artifacts(FLOW, resumed, "train", "4")["model"].ref == ref("ff")


def test_clone_of_a_failed_task_is_refused(store: MetadataBackend) -> None:
    origin_run = store.create_run(FLOW, "alice")
    start(store, origin_run, "train", "1")
    finish(store, origin_run, "train", "1", status=TaskStatus.FAILED)
    origin = store.get_task(FLOW, origin_run, "train", "1")
    resumed = store.create_run(FLOW, "alice")

    with pytest.raises(ShipyardError, match="only succeeded tasks"):
        store.clone_task(
            FLOW,
            resumed,
            "train",
            "1",
            origin=origin,
            artifacts={},
            foreach_stack=(),
            input_paths=(),
        )


def test_fail_running_tasks_fails_only_what_is_still_running(store: MetadataBackend) -> None:
    run_id = store.create_run(FLOW, "alice")
    start(store, run_id, "start", "1")
    finish(store, run_id, "start", "1")
    start(store, run_id, "train", "2")
    start(store, run_id, "train", "3")

    failed = store.fail_running_tasks(FLOW, run_id, "worker died")

    assert failed == 2
    statuses = {t.task_id: t.status for t in store.list_tasks(FLOW, run_id)}
    assert statuses == {"1": TaskStatus.SUCCEEDED, "2": TaskStatus.FAILED, "3": TaskStatus.FAILED}
    attempt = store.get_task(FLOW, run_id, "train", "2").attempts[0]
    assert (attempt.status, attempt.error) == (TaskStatus.FAILED, "worker died")
    assert attempt.finished_at is not None


def test_list_steps_follows_first_task_creation(store: MetadataBackend) -> None:
    run_id = store.create_run(FLOW, "alice")
    for step, task_id in [("start", "1"), ("train", "2"), ("eval", "3"), ("train", "4")]:
        start(store, run_id, step, task_id)

    assert store.list_steps(FLOW, run_id) == ["start", "train", "eval"]


def test_list_tasks_is_in_creation_order_and_filters_by_step(store: MetadataBackend) -> None:
    run_id = store.create_run(FLOW, "alice")
    for step, task_id in [("start", "1"), ("train", "10"), ("train", "9"), ("end", "11")]:
        start(store, run_id, step, task_id)

    assert [t.task_id for t in store.list_tasks(FLOW, run_id)] == ["1", "10", "9", "11"]
    assert [t.task_id for t in store.list_tasks(FLOW, run_id, "train")] == ["10", "9"]
    assert all(len(t.attempts) == 1 for t in store.list_tasks(FLOW, run_id))


def test_artifacts_of_run_are_keyed_by_step_and_task(store: MetadataBackend) -> None:
    run_id = store.create_run(FLOW, "alice")
    start(store, run_id, "start", "1")
    finish(store, run_id, "start", "1", artifacts={"a": ref("01")})
    start(store, run_id, "train", "2")
    finish(store, run_id, "train", "2", artifacts={"a": ref("02"), "b": ref("03")})
    start(store, run_id, "end", "3")

    by_task = store.artifacts_of_run(FLOW, run_id)

    assert set(by_task) == {("start", "1"), ("train", "2")}
    assert {name: a.ref.sha256 for name, a in by_task[("train", "2")].items()} == {
        "a": "02",
        "b": "03",
    }


def test_referenced_hashes_cover_artifacts_logs_and_code(store: MetadataBackend) -> None:
    run_id = store.create_run(FLOW, "alice", code_hash="code")
    start(store, run_id, "start", "1")
    finish(store, run_id, "start", "1", artifacts={"a": ref("art")}, stdout_hash="out")

    assert store.referenced_hashes() == {"code", "art", "out", "err-hash"}


# --------------------------------------------------------------------------------- tags


def test_add_and_remove_user_tags(store: MetadataBackend) -> None:
    run_id = store.create_run(FLOW, "alice", tags=["draft"])

    store.add_tags(FLOW, run_id, ["best", "draft"])
    store.remove_tags(FLOW, run_id, ["draft", "never-had"])

    run = store.get_run(FLOW, run_id)
    assert run.tags == {"best"}
    assert run.system_tags == {"user:alice", f"flow:{FLOW}"}


def test_removing_a_system_tag_is_refused_and_removes_nothing(store: MetadataBackend) -> None:
    run_id = store.create_run(FLOW, "alice", tags=["draft"])

    with pytest.raises(ShipyardError, match=r"'user:alice'.*system tags are permanent"):
        store.remove_tags(FLOW, run_id, ["draft", "user:alice"])

    assert store.get_run(FLOW, run_id).tags == {"draft"}


def test_adding_a_tag_with_a_system_prefix_is_refused(store: MetadataBackend) -> None:
    run_id = store.create_run(FLOW, "alice")

    with pytest.raises(ShipyardError, match="reserved prefix"):
        store.add_tags(FLOW, run_id, ["user:mallory"])

    assert store.list_runs(tags=["user:mallory"]) == []


# ------------------------------------------------------------------------------- errors


def test_unknown_run_raises_object_not_found_saying_how_to_list_runs(
    store: MetadataBackend,
) -> None:
    with pytest.raises(ObjectNotFound) as excinfo:
        store.get_run(FLOW, "12")

    assert str(excinfo.value) == (
        f"run '{FLOW}/12' does not exist; list runs with `shipyard runs {FLOW}`"
    )


def test_run_of_another_flow_is_not_found_under_this_flow(store: MetadataBackend) -> None:
    run_id = store.create_run("OtherFlow", "alice")

    with pytest.raises(
        ObjectNotFound, match=f"belongs to flow 'OtherFlow'; use 'OtherFlow/{run_id}'"
    ):
        store.get_run(FLOW, run_id)
    with pytest.raises(ObjectNotFound):
        store.add_tags(FLOW, run_id, ["x"])


def test_run_written_under_its_flow_is_still_not_found_under_another(
    store: MetadataBackend,
) -> None:
    run_id = store.create_run(FLOW, "alice")
    start(store, run_id, "train", "1")

    with pytest.raises(ObjectNotFound, match=f"belongs to flow '{FLOW}'"):
        store.start_task(
            "OtherFlow", run_id, "train", "2", attempt=0, foreach_stack=(), input_paths=()
        )
    with pytest.raises(ObjectNotFound, match=f"belongs to flow '{FLOW}'"):
        store.finish_task(
            "OtherFlow",
            run_id,
            "train",
            "1",
            attempt=0,
            status=TaskStatus.SUCCEEDED,
            artifacts={},
            stdout_hash=None,
            stderr_hash=None,
            exit_code=0,
            error=None,
        )


def test_non_numeric_run_id_is_not_found(store: MetadataBackend) -> None:
    with pytest.raises(ObjectNotFound, match=f"run '{FLOW}/latest' does not exist"):
        store.list_tasks(FLOW, "latest")


def test_unknown_task_raises_object_not_found_with_its_pathspec(store: MetadataBackend) -> None:
    run_id = store.create_run(FLOW, "alice")

    with pytest.raises(ObjectNotFound, match=f"task '{FLOW}/{run_id}/train/9' does not exist"):
        store.get_task(FLOW, run_id, "train", "9")


# ---------------------------------------------------------------------- sqlite and processes


def test_sqlite_database_is_in_wal_mode(store: MetadataBackend, db_url: str) -> None:
    path = db_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_store_opened_before_fork_refuses_to_work_in_the_child(store: MetadataBackend) -> None:
    pid = os.fork()
    if pid == 0:  # child: must not touch the parent's pooled connections
        try:
            store.list_flows()
        except ShipyardError:
            os._exit(0)
        os._exit(1)
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    assert store.list_flows() == []  # the parent's store still works


_WRITER = textwrap.dedent(
    """
    import json, sys, time
    from shipyard.datastore.refs import ArtifactRef
    from shipyard.metadata import open_metadata
    from shipyard.metadata.records import TaskStatus
    url, count = sys.argv[1], int(sys.argv[2])
    print("ready", flush=True); sys.stdin.readline()  # both open the new database at once
    began = time.time()
    store = open_metadata(url)
    opened = time.time()
    print("ready", flush=True); sys.stdin.readline()  # then both write at once
    writing = time.time()
    run_ids = []
    for i in range(count):
        run_id = store.create_run("Flow", "worker", tags=[f"n{i}"])
        store.start_task("Flow", run_id, "start", "1", attempt=0, foreach_stack=(), input_paths=())
        store.finish_task(
            "Flow", run_id, "start", "1", attempt=0, status=TaskStatus.SUCCEEDED,
            artifacts={"x": ArtifactRef(f"h{i}", "int", 1, "pickle")},
            stdout_hash=None, stderr_hash=None, exit_code=0, error=None,
        )
        run_ids.append(run_id)
    print(json.dumps({"open": [began, opened], "write": [writing, time.time()], "runs": run_ids}))
    store.close()
    """
)


@pytest.mark.slow
def test_two_processes_create_a_new_store_and_write_runs_concurrently(db_url: str) -> None:
    # Both processes open the not-yet-existing database at the same instant, so both race to
    # create the schema, then interleave their write transactions.
    with Contenders([[sys.executable, "-c", _WRITER, db_url, "25"]] * 2) as writers:
        writers.start()  # open
        writers.start()  # write
        outputs = [json.loads(lines[-1]) for lines in writers.results()]

    assert_inside_at_once([Span(*out["open"]) for out in outputs], "open_metadata")
    assert_inside_at_once([Span(*out["write"]) for out in outputs], "the writes")
    run_ids = [run_id for out in outputs for run_id in out["runs"]]
    assert len(run_ids) == len(set(run_ids)) == 50
    with open_metadata(db_url) as store:
        assert len(store.list_runs("Flow")) == 50
        assert all(
            t.status is TaskStatus.SUCCEEDED for r in run_ids for t in store.list_tasks("Flow", r)
        )


def test_creates_the_parent_directory_of_a_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "metadata.db"

    with open_metadata(f"sqlite:///{path}") as store:
        store.create_run(FLOW, "alice")

    assert path.is_file()
