"""`Step`: its tasks, in order, one by id, and when it finished."""

from __future__ import annotations

import pytest

from shipyard.client import Run, Step, Task
from shipyard.exceptions import ObjectNotFound
from shipyard.metadata.records import TaskStatus

from .conftest import History


def test_a_step_is_named_by_its_step_name(history: History) -> None:
    run_id = history.successful_run()
    step = Step(f"TrainFlow/{run_id}/train")
    assert (step.id, step.pathspec, repr(step)) == (
        "train",
        f"TrainFlow/{run_id}/train",
        f"Step('TrainFlow/{run_id}/train')",
    )


def test_an_unknown_step_raises_object_not_found(history: History) -> None:
    run_id = history.successful_run()
    with pytest.raises(ObjectNotFound, match="evaluate"):
        Step(f"TrainFlow/{run_id}/evaluate")


def test_a_foreach_step_lists_all_its_tasks_in_order(history: History) -> None:
    run_id = history.successful_run()
    assert [task.id for task in Step(f"TrainFlow/{run_id}/train").tasks()] == ["2", "3"]


def test_iterating_a_step_yields_its_tasks(history: History) -> None:
    run_id = history.successful_run()
    assert list(Step(f"TrainFlow/{run_id}/train")) == [
        Task(f"TrainFlow/{run_id}/train/2"),
        Task(f"TrainFlow/{run_id}/train/3"),
    ]


def test_task_is_the_single_task_of_a_linear_step(history: History) -> None:
    run_id = history.successful_run()
    assert Step(f"TrainFlow/{run_id}/start").task.id == "1"


def test_indexing_a_step_by_task_id_gives_the_task(history: History) -> None:
    run_id = history.successful_run()
    assert Step(f"TrainFlow/{run_id}/train")["3"].pathspec == f"TrainFlow/{run_id}/train/3"


def test_indexing_a_step_by_an_unknown_task_raises_object_not_found(history: History) -> None:
    run_id = history.successful_run()
    with pytest.raises(ObjectNotFound):
        Step(f"TrainFlow/{run_id}/train")["99"]


def test_a_step_finished_when_its_last_task_did(history: History) -> None:
    run_id = history.successful_run()
    step = Step(f"TrainFlow/{run_id}/train")
    assert step.finished_at == max(t.finished_at for t in step.tasks() if t.finished_at)


def test_a_step_with_a_running_task_has_not_finished(history: History) -> None:
    run_id = history.run()
    history.task("TrainFlow", run_id, "train", "1")
    history.task("TrainFlow", run_id, "train", "2", status=TaskStatus.RUNNING)
    assert Step(f"TrainFlow/{run_id}/train").finished_at is None


def test_a_step_leads_back_to_its_run(history: History) -> None:
    run_id = history.successful_run()
    assert Run(f"TrainFlow/{run_id}")["end"].run == Run(f"TrainFlow/{run_id}")
