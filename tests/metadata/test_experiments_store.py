"""Specification of the experiments' SQL store, on SQLite and on PostgreSQL: names taken once,
states moving only forward, a running definition fixed, layers without overlap, and every
change in the history."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from shipyard.exceptions import ObjectNotFound, ShipyardError
from shipyard.metadata import ExperimentStore, open_metadata
from shipyard.metadata.experiment_records import (
    CellRecord,
    ExperimentAction,
    ExperimentDefinition,
    ExperimentState,
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.service)])
def store(request: pytest.FixtureRequest, db_url: str) -> Iterator[ExperimentStore]:
    url = db_url if request.param == "sqlite" else request.getfixturevalue("pg_url")
    with open_metadata(url) as metadata:
        yield metadata.experiments


def definition(name: str, layer: str | None = None, traffic: float = 1.0) -> ExperimentDefinition:
    return ExperimentDefinition(
        name=name,
        unit="member_id",
        salt=name,
        cells=(CellRecord("control", "ranker@production", 0.5), CellRecord("t", "ranker/2", 0.5)),
        control="control",
        layer=layer,
        traffic=traffic,
    )


def test_an_experiment_lives_draft_running_stopped_with_its_history(
    store: ExperimentStore,
) -> None:
    assert store.create_experiment(definition("x"), "alice").state is ExperimentState.DRAFT
    store.update_experiment(definition("x"), "bob")
    running = store.start_experiment("x", versions={"control": 1, "t": 2}, offset=0.0, user="bob")
    assert [cell.version for cell in running.definition.cells] == [1, 2]
    assert store.stop_experiment("x", "carol").state is ExperimentState.STOPPED
    history = store.experiment_history("x")
    assert [(e.action, e.user) for e in history] == [
        (ExperimentAction.CREATED, "alice"),
        (ExperimentAction.UPDATED, "bob"),
        (ExperimentAction.STARTED, "bob"),
        (ExperimentAction.STOPPED, "carol"),
    ]
    assert history[2].details["versions"] == {"control": 1, "t": 2}
    assert store.get_experiment("x") == store.list_experiments(state=ExperimentState.STOPPED)[0]


def test_states_only_move_forward_and_a_running_definition_is_fixed(
    store: ExperimentStore,
) -> None:
    store.create_experiment(definition("x"), "alice")
    with pytest.raises(ShipyardError, match="exists already"):
        store.create_experiment(definition("x"), "alice")
    with pytest.raises(ShipyardError, match="only a running experiment stops"):
        store.stop_experiment("x", "alice")
    store.start_experiment("x", versions={"control": 1, "t": 2}, offset=0.0, user="alice")
    with pytest.raises(ShipyardError, match="only a draft's definition changes"):
        store.update_experiment(definition("x"), "alice")
    with pytest.raises(ObjectNotFound, match="experiments: x"):
        store.get_experiment("y")
    assert len(store.experiment_history("x")) == 2  # nothing refused was recorded


def test_running_experiments_of_a_layer_never_overlap(store: ExperimentStore) -> None:
    for name in ("a", "b"):
        store.create_experiment(definition(name, layer="ranking", traffic=0.6), "alice")

    def start(name: str) -> str:
        try:
            store.start_experiment(name, versions={"control": 1, "t": 1}, offset=0.0, user="u")
        except ShipyardError as exc:
            return str(exc)
        return "started"

    with ThreadPoolExecutor(2) as pool:  # at once: exactly one gets the slice
        outcomes = sorted(pool.map(start, ["a", "b"]))
    assert outcomes[1] == "started"
    assert "layer 'ranking' is over-allocated" in outcomes[0]
    assert len(store.list_experiments(state=ExperimentState.RUNNING, layer="ranking")) == 1
