"""`DataArtifact` and `task.data`: metadata at hand, values read from blobs only when asked."""

from __future__ import annotations

import pytest

from shipyard.client import DataArtifact, Task
from shipyard.exceptions import ArtifactNotFound, BlobNotFound, NamespaceMismatch

from .conftest import History


def test_an_artifact_describes_its_stored_value(history: History) -> None:
    run_id = history.successful_run()
    artifact = DataArtifact(f"TrainFlow/{run_id}/end/4/model")
    assert artifact.id == "model"
    assert artifact.pathspec == f"TrainFlow/{run_id}/end/4/model"
    assert artifact.type_name == "builtins.dict"
    assert artifact.size > 0
    assert len(artifact.sha) == 64


def test_an_artifact_repr_shows_its_pathspec(history: History) -> None:
    run_id = history.successful_run()
    assert repr(DataArtifact(f"TrainFlow/{run_id}/end/4/score")) == (
        f"DataArtifact('TrainFlow/{run_id}/end/4/score')"
    )


def test_equal_values_share_one_sha(history: History) -> None:
    run_id = history.successful_run()
    start = DataArtifact(f"TrainFlow/{run_id}/start/1/alpha")
    train = DataArtifact(f"TrainFlow/{run_id}/train/2/alpha")
    assert start.sha == train.sha


def test_an_artifact_is_not_loaded_until_its_data_is_read(history: History) -> None:
    artifact = DataArtifact(f"TrainFlow/{history.successful_run()}/end/4/model")
    assert not artifact.is_loaded
    assert artifact.data == {"weights": [1, 2, 3]}
    assert artifact.is_loaded


def test_task_data_reads_only_the_blobs_asked_for(history: History) -> None:
    run_id = history.successful_run()
    task = Task(f"TrainFlow/{run_id}/end/4")
    # With the model's blob gone, everything but reading the model itself still works.
    history.blobs.delete(task["model"].sha)
    assert task.data.score == 0.9
    assert "model" in task.data
    with pytest.raises(BlobNotFound):
        _ = task.data.model


def test_an_unknown_artifact_raises_artifact_not_found(history: History) -> None:
    run_id = history.successful_run()
    with pytest.raises(ArtifactNotFound, match="model, score"):
        DataArtifact(f"TrainFlow/{run_id}/end/4/weights")


def test_an_artifact_outside_the_namespace_raises_namespace_mismatch(history: History) -> None:
    run_id = history.successful_run(user="bob")
    with pytest.raises(NamespaceMismatch):
        DataArtifact(f"TrainFlow/{run_id}/end/4/model")


def test_task_data_lists_its_names_for_completion(history: History) -> None:
    data = Task(f"TrainFlow/{history.successful_run()}/end/4").data
    assert {"model", "score"} <= set(dir(data))
    assert list(data) == ["model", "score"]
    assert "model, score" in repr(data)
