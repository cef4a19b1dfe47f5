"""Pathspec parsing: the errors show the form that was expected."""

from __future__ import annotations

import pytest

from shipyard.client import DataArtifact, Flow, Run, Step, Task, from_pathspec
from shipyard.client.pathspec import parse_pathspec, split_pathspec

from .conftest import History


def test_parse_pathspec_returns_the_components() -> None:
    assert parse_pathspec("TrainFlow/12/train/3", "Task") == ["TrainFlow", "12", "train", "3"]


def test_a_run_pathspec_without_run_id_names_the_expected_form() -> None:
    with pytest.raises(ValueError, match="FlowName/run_id"):
        Run("TrainFlow")


def test_a_step_pathspec_with_too_many_parts_names_the_expected_form() -> None:
    with pytest.raises(ValueError, match="FlowName/run_id/step_name"):
        Step("TrainFlow/12/train/3")


def test_a_task_pathspec_with_an_empty_part_is_refused() -> None:
    with pytest.raises(ValueError, match="FlowName/run_id/step_name/task_id"):
        Task("TrainFlow/12//3")


def test_an_artifact_pathspec_needs_five_parts() -> None:
    with pytest.raises(ValueError, match="artifact_name"):
        DataArtifact("TrainFlow/12/train/3")


def test_split_pathspec_lists_every_accepted_form_when_the_depth_is_wrong() -> None:
    with pytest.raises(ValueError, match="FlowName/run_id/step_name/task_id/artifact_name"):
        split_pathspec("a/b/c/d/e/f")


def test_from_pathspec_builds_the_object_each_depth_names(history: History) -> None:
    run_id = history.successful_run()
    base = f"TrainFlow/{run_id}"
    assert [from_pathspec(p) for p in ("TrainFlow", base, f"{base}/end", f"{base}/end/4")] == [
        Flow("TrainFlow"),
        Run(base),
        Step(f"{base}/end"),
        Task(f"{base}/end/4"),
    ]
    assert from_pathspec(f"{base}/end/4/score") == DataArtifact(f"{base}/end/4/score")
