"""Registering from a running flow and from a past run's artifact records lineage that the
client can walk both ways: version -> run -> Run.models -> version."""

from __future__ import annotations

import pandas as pd
import pytest

from shipyard import Flow, Run
from shipyard.exceptions import ObjectNotFound
from shipyard.registry import models

from ..conftest import Home
from .conftest import FLOWS


def run_register_flow(home: Home, *args: str) -> Run:
    done = home.run_flow(FLOWS / "register_flow.py", "run", *args)
    assert done.returncode == 0, done.stdout + done.stderr
    run = Flow("RegisterFlow").latest_run
    assert run is not None and run.successful
    return run


def test_a_step_registers_a_version_with_its_lineage(home: Home) -> None:
    run = run_register_flow(home, "--C", "0.5")

    version = models.get("ranker")
    lineage = version.lineage
    assert run.data is not None and run["start"].task.data.registered == "ranker/1"
    assert lineage is not None
    assert (lineage.flow_name, lineage.run_id, lineage.step_name) == (
        "RegisterFlow",
        run.id,
        "start",
    )
    assert lineage.task_id == run["start"].task.id
    assert lineage.parameters == {"C": 0.5}
    assert lineage.code_hash == run.record.code_hash is not None
    # The hash of the model object is the hash of the artifact the step stored.
    assert lineage.artifact_sha256 == run["start"].task["model"].sha
    assert version.user == "tester"
    assert version.metrics == {"accuracy": 1.0}
    assert version.signature is not None
    assert version.signature.column_names == ["x1", "x2"]


def test_lineage_round_trips_through_the_client(home: Home) -> None:
    run = run_register_flow(home)

    version = models.get("ranker/1")

    assert version.run == run
    assert run.models == [version]
    assert Run(run.pathspec).models[0].run == run


def test_a_second_run_registers_version_two(home: Home) -> None:
    first = run_register_flow(home)
    second = run_register_flow(home)

    assert [v.version for v in models.versions("ranker")] == [1, 2]
    assert [v.version for v in second.models] == [2]
    assert [v.version for v in first.models] == [1]


def test_a_registered_model_loads_and_scores_anywhere(home: Home) -> None:
    run_register_flow(home)

    loaded = models.load("ranker")

    assert loaded.predict(pd.DataFrame({"x1": [0.0, 5.0], "x2": [1, 0]})) == [0, 1]


def test_registering_a_past_runs_artifact_records_that_task(home: Home) -> None:
    run = run_register_flow(home)
    task = run["start"].task

    version = models.register_from_artifact(
        "archived", f"{task.pathspec}:model", metrics={"auc": 0.8}
    )

    lineage = version.lineage
    assert lineage is not None
    assert lineage.task_pathspec == task.pathspec
    assert (lineage.artifact_name, lineage.artifact_sha256) == ("model", task["model"].sha)
    assert lineage.parameters == {"C": 1.0}
    assert version.flavor == "sklearn"
    assert {v.name for v in run.models} == {"ranker", "archived"}


def test_registering_a_missing_artifact_names_the_ones_there(home: Home) -> None:
    run = run_register_flow(home)
    task = run["start"].task

    with pytest.raises(
        ObjectNotFound, match="has no artifact 'modle'; its artifacts: C, frame, model"
    ):
        models.register_from_artifact("archived", f"{task.pathspec}:modle")
    with pytest.raises(ValueError, match="does not name an artifact"):
        models.register_from_artifact("archived", "RegisterFlow/1:model")


def test_aliases_through_the_module_functions(home: Home) -> None:
    run_register_flow(home)
    run_register_flow(home)

    models.set_alias("ranker", "production", 1)
    models.set_alias("ranker", "production", 2)
    assert models.load("ranker@production").version == 2
    assert models.rollback("ranker", "production").version == 1
    assert [e.to_version for e in models.alias_history("ranker", "production")] == [1, 2, 1]
    assert models.alias_history("ranker", "production")[0].user == "tester"
