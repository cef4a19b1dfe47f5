"""Experiments' life: draft -> running -> stopped, versions fixed at start, every change in
the history with who and when, bad definitions refused with what is wrong."""

from __future__ import annotations

import pytest

from shipyard.exceptions import ObjectNotFound, ShipyardError
from shipyard.experiments import (
    ExperimentDefinitionError,
    Experiments,
    ExperimentState,
)
from shipyard.experiments.lifecycle import cell_pairs
from shipyard.metadata.experiment_records import ExperimentAction
from shipyard.registry import ModelRegistry

CELLS = {"control": "ranker@production", "treatment": "ranker/2"}


def test_an_experiment_moves_from_draft_to_running_to_stopped(experiments: Experiments) -> None:
    draft = experiments.create("ranker-v4", CELLS, {"control": 0.5, "treatment": 0.5})
    assert draft.state is ExperimentState.DRAFT
    assert [cell.version for cell in draft.definition.cells] == [None, None]
    assert draft.definition.salt == "ranker-v4"
    assert draft.definition.control == "control"

    running = experiments.start("ranker-v4")
    assert running.state is ExperimentState.RUNNING
    assert running.started_at is not None
    assert experiments.stop("ranker-v4").state is ExperimentState.STOPPED
    assert [r.name for r in experiments.list_experiments("stopped")] == ["ranker-v4"]


def test_starting_resolves_aliases_and_records_the_versions(
    experiments: Experiments, registry: ModelRegistry
) -> None:
    experiments.create("ranker-v4", CELLS)
    experiments.start("ranker-v4")
    registry.set_alias("ranker", "production", 2)  # a later move does not change the experiment

    cells = experiments.get("ranker-v4").definition.cells
    assert [(cell.model, cell.version) for cell in cells] == [
        ("ranker@production", 1),
        ("ranker/2", 2),
    ]


def test_every_change_is_in_the_history_with_who_and_when(experiments: Experiments) -> None:
    experiments.create("ranker-v4", CELLS)
    experiments.update("ranker-v4", allocation={"control": 0.9, "treatment": 0.1})
    experiments.start("ranker-v4")
    experiments.stop("ranker-v4")

    history = experiments.history("ranker-v4")
    assert [event.action for event in history] == [
        ExperimentAction.CREATED,
        ExperimentAction.UPDATED,
        ExperimentAction.STARTED,
        ExperimentAction.STOPPED,
    ]
    assert {event.user for event in history} == {"alice"}
    assert [event.at for event in history] == sorted(event.at for event in history)
    assert history[1].details["cells"]["treatment"] == {"model": "ranker/2", "share": 0.1}
    assert history[2].details["versions"] == {"control": 1, "treatment": 2}


def test_a_running_experiment_cannot_change(experiments: Experiments) -> None:
    experiments.create("ranker-v4", CELLS)
    experiments.start("ranker-v4")
    with pytest.raises(ShipyardError, match="only a draft's definition changes"):
        experiments.update("ranker-v4", allocation={"control": 0.9, "treatment": 0.1})
    with pytest.raises(ShipyardError, match="is running: only a draft starts"):
        experiments.start("ranker-v4")
    experiments.stop("ranker-v4")
    with pytest.raises(ShipyardError, match="is stopped: only a running experiment stops"):
        experiments.stop("ranker-v4")
    assert experiments.get("ranker-v4").definition.cells[0].share == 0.5


def test_a_name_is_taken_once(experiments: Experiments) -> None:
    experiments.create("ranker-v4", CELLS)
    with pytest.raises(ShipyardError, match="exists already"):
        experiments.create("ranker-v4", CELLS)


def test_an_unknown_experiment_names_the_ones_that_exist(experiments: Experiments) -> None:
    experiments.create("ranker-v4", CELLS)
    with pytest.raises(ObjectNotFound, match="experiments: ranker-v4"):
        experiments.get("ranker-v5")


@pytest.mark.parametrize(
    ("cells", "allocation", "message"),
    [
        (CELLS, {"control": 0.5, "treatment": 0.6}, "must sum to 1"),
        (CELLS, {"control": 1.0}, r"\['treatment'\] have no share"),
        ({"control": "ranker@staging"}, None, "'ranker@staging' names no model version"),
        ({"control": "nomodel/1"}, None, "'nomodel/1' names no model version"),
        ({"control": "ranker/9"}, None, "'ranker/9' names no model version"),
        ({"control": "ranker@@x"}, None, "is not a model reference"),
    ],
)
def test_bad_definitions_are_refused_with_what_is_wrong(
    experiments: Experiments,
    cells: dict[str, str],
    allocation: dict[str, float] | None,
    message: str,
) -> None:
    with pytest.raises(ExperimentDefinitionError, match=message):
        experiments.create("bad", cells, allocation)
    assert experiments.list_experiments() == []


def test_a_cell_name_given_twice_is_refused() -> None:
    with pytest.raises(ExperimentDefinitionError, match="'control' is used twice"):
        cell_pairs(["control=ranker/1", "control=ranker/2"], "cell")


def test_experiments_of_a_layer_get_disjoint_slices_and_no_more_than_all(
    experiments: Experiments,
) -> None:
    experiments.create("a", CELLS, layer="ranking", traffic=0.5)
    experiments.create("b", CELLS, layer="ranking", traffic=0.5)
    experiments.create("c", CELLS, layer="ranking", traffic=0.2)
    assert experiments.start("a").offset == 0.0
    assert experiments.start("b").offset == 0.5
    with pytest.raises(ExperimentDefinitionError, match="layer 'ranking' is over-allocated"):
        experiments.start("c")
    with pytest.raises(ExperimentDefinitionError, match="layer 'ranking' is over-allocated"):
        experiments.create("d", CELLS, layer="ranking", traffic=0.1)
    experiments.stop("a")
    assert experiments.start("c").offset == 0.0  # the stopped experiment's slice is free again


def test_assignment_follows_the_stored_definition(experiments: Experiments) -> None:
    experiments.create("ranker-v4", CELLS, {"control": 0.25, "treatment": 0.75})
    experiments.start("ranker-v4")
    cells = experiments.allocation("ranker-v4").assign_many(range(20_000))
    assert abs(cells.count("treatment") / 20_000 - 0.75) < 0.02
