"""`Task`: status, attempts, logs, errors, foreach position and artifacts."""

from __future__ import annotations

import pytest

from shipyard.client import DataArtifact, Step, Task
from shipyard.exceptions import ArtifactNotFound, ObjectNotFound
from shipyard.metadata.records import ForeachFrame, TaskStatus

from .conftest import History


def retried_task(history: History) -> Task:
    """A task whose attempt 0 failed and attempt 1 succeeded."""
    run_id = history.run()
    history.task(
        "TrainFlow",
        run_id,
        "train",
        "1",
        status=TaskStatus.FAILED,
        attempt=0,
        stdout="try 0\n",
        error="TimeoutError: flaky",
    )
    history.task(
        "TrainFlow", run_id, "train", "1", attempt=1, stdout="try 1\n", artifacts={"score": 1}
    )
    return Task(f"TrainFlow/{run_id}/train/1")


def test_a_task_is_named_by_its_pathspec(history: History) -> None:
    run_id = history.successful_run()
    task = Task(f"TrainFlow/{run_id}/train/2")
    assert (task.id, task.pathspec, repr(task)) == (
        "2",
        f"TrainFlow/{run_id}/train/2",
        f"Task('TrainFlow/{run_id}/train/2')",
    )


def test_an_unknown_task_raises_object_not_found(history: History) -> None:
    run_id = history.successful_run()
    with pytest.raises(ObjectNotFound):
        Task(f"TrainFlow/{run_id}/train/99")


def test_a_succeeded_task_is_successful_and_finished(history: History) -> None:
    task = Task(f"TrainFlow/{history.successful_run()}/end/4")
    assert (task.status, task.successful, task.finished) == (TaskStatus.SUCCEEDED, True, True)


def test_a_failed_task_is_finished_but_not_successful(history: History) -> None:
    task = Task(f"TrainFlow/{history.failed_run()}/train/2")
    assert (task.status, task.successful, task.finished) == (TaskStatus.FAILED, False, True)


def test_a_running_task_is_not_finished(history: History) -> None:
    run_id = history.run()
    history.task("TrainFlow", run_id, "start", "1", status=TaskStatus.RUNNING)
    task = Task(f"TrainFlow/{run_id}/start/1")
    assert (task.finished, task.finished_at) == (False, None)


def test_a_task_has_ordered_timestamps(history: History) -> None:
    task = Task(f"TrainFlow/{history.successful_run()}/start/1")
    assert task.finished_at is not None
    assert task.created_at <= task.finished_at


def test_stdout_is_the_stored_log_of_the_latest_attempt(history: History) -> None:
    assert retried_task(history).stdout == "try 1\n"


def test_stderr_is_the_stored_error_log(history: History) -> None:
    task = Task(f"TrainFlow/{history.failed_run()}/train/2")
    assert task.stderr.endswith("ValueError: alpha too large\n")


def test_logs_are_empty_when_nothing_was_stored(history: History) -> None:
    task = Task(f"TrainFlow/{history.failed_run()}/train/2")
    assert task.stdout == ""


def test_logs_of_an_earlier_attempt_can_be_read(history: History) -> None:
    assert retried_task(history).logs("stdout", attempt=0) == "try 0\n"


def test_logs_of_an_attempt_never_made_raise_object_not_found(history: History) -> None:
    with pytest.raises(ObjectNotFound, match="attempts: 0, 1"):
        retried_task(history).logs("stdout", attempt=5)


def test_logs_refuse_an_unknown_stream(history: History) -> None:
    with pytest.raises(ValueError, match="stdout"):
        retried_task(history).logs("stdin")  # type: ignore[arg-type]


def test_attempts_lists_every_try_oldest_first(history: History) -> None:
    attempts = retried_task(history).attempts
    assert [(a.attempt, a.status) for a in attempts] == [
        (0, TaskStatus.FAILED),
        (1, TaskStatus.SUCCEEDED),
    ]


def test_exception_is_the_error_of_the_failed_attempt(history: History) -> None:
    task = Task(f"TrainFlow/{history.failed_run()}/train/2")
    assert task.exception == "ValueError: alpha too large"


def test_exception_of_a_retried_task_reports_the_earlier_failure(history: History) -> None:
    assert retried_task(history).exception == "TimeoutError: flaky"


def test_exception_is_none_when_no_attempt_failed(history: History) -> None:
    assert Task(f"TrainFlow/{history.successful_run()}/end/4").exception is None


def test_a_foreach_task_knows_its_stack_and_index(history: History) -> None:
    task = Task(f"TrainFlow/{history.successful_run()}/train/3")
    assert task.foreach_stack == (ForeachFrame("start", "items", 1, 2),)
    assert task.index == 1


def test_a_task_outside_any_foreach_has_no_index(history: History) -> None:
    task = Task(f"TrainFlow/{history.successful_run()}/start/1")
    assert (task.foreach_stack, task.index) == ((), None)


def test_a_cloned_task_points_at_its_origin(history: History) -> None:
    first = history.successful_run()
    origin = history.metadata.get_task("TrainFlow", first, "start", "1")
    resumed = history.metadata.create_run("TrainFlow", "alice", origin_run_id=first)
    history.metadata.clone_task(
        "TrainFlow",
        resumed,
        "start",
        "1",
        origin=origin,
        artifacts={},
        foreach_stack=(),
        input_paths=(),
    )
    task = Task(f"TrainFlow/{resumed}/start/1")
    assert task.origin_pathspec == f"TrainFlow/{first}/start/1"
    assert task.stdout == "starting\n"


def test_task_data_exposes_artifacts_as_attributes(history: History) -> None:
    task = Task(f"TrainFlow/{history.successful_run()}/train/2")
    assert (task.data.item, task.data.score) == ("a", 0.9)


def test_hasattr_on_task_data_tells_whether_an_artifact_exists(history: History) -> None:
    data = Task(f"TrainFlow/{history.successful_run()}/train/2").data
    assert hasattr(data, "score")
    assert not hasattr(data, "model")


def test_a_missing_artifact_raises_artifact_not_found_listing_the_others(
    history: History,
) -> None:
    data = Task(f"TrainFlow/{history.successful_run()}/train/2").data
    with pytest.raises(ArtifactNotFound, match="alpha, item, score"):
        _ = data.model


def test_a_failed_task_has_no_artifacts_and_says_why(history: History) -> None:
    task = Task(f"TrainFlow/{history.failed_run()}/train/2")
    with pytest.raises(ArtifactNotFound, match="only once it succeeds"):
        _ = task.data.score


def test_indexing_a_task_gives_a_data_artifact(history: History) -> None:
    run_id = history.successful_run()
    artifact = Task(f"TrainFlow/{run_id}/end/4")["model"]
    assert artifact == DataArtifact(f"TrainFlow/{run_id}/end/4/model")
    assert artifact.data == {"weights": [1, 2, 3]}


def test_indexing_a_task_by_a_missing_name_raises_artifact_not_found(history: History) -> None:
    task = Task(f"TrainFlow/{history.successful_run()}/end/4")
    with pytest.raises(ArtifactNotFound, match="model, score"):
        task["weights"]


def test_iterating_a_task_yields_its_artifacts_by_name(history: History) -> None:
    task = Task(f"TrainFlow/{history.successful_run()}/train/2")
    assert [artifact.id for artifact in task] == ["alpha", "item", "score"]


def test_artifacts_maps_names_to_data_artifacts(history: History) -> None:
    artifacts = Task(f"TrainFlow/{history.successful_run()}/end/4").artifacts
    # As Metaflow's named tuple: iterating gives the artifacts, sorted by name.
    assert [artifact.id for artifact in artifacts] == ["model", "score"]
    assert artifacts["score"].data == 0.9
    assert artifacts.score.data == 0.9


def test_a_task_contains_its_artifact_names(history: History) -> None:
    task = Task(f"TrainFlow/{history.successful_run()}/end/4")
    assert "model" in task
    assert "item" not in task


def test_tasks_reached_from_a_step_equal_tasks_built_by_pathspec(history: History) -> None:
    run_id = history.successful_run()
    assert Step(f"TrainFlow/{run_id}/end").task == Task(f"TrainFlow/{run_id}/end/4")
