"""Experiments in the scoring server: requests routed by allocation to their cell's version,
one exposure per scored request (all of them written by a clean shutdown), a stop picked up
within the poll interval, and bad requests answered with what is wrong."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from shipyard.cli.main import cli
from shipyard.experiments import api as experiments
from shipyard.experiments.exposures import EXPOSURES, ExposureLog
from shipyard.features import facts
from shipyard.registry import ModelRegistry
from shipyard.serving.app import create_app
from shipyard.serving.experiments import ExperimentRouting

from ..waiting import wait_for

ROW = {"records": [{"x1": 1.0, "x2": 1}]}  # ranker/1 answers 2.0, ranker/2 answers 4.0


@pytest.fixture
def experiment(registry: ModelRegistry) -> str:
    experiments.create(
        "ranker-v4",
        {"control": "ranker@production", "treatment": "ranker/2"},
        unit="member_id",
    )
    experiments.start("ranker-v4")
    return "ranker-v4"


def serve_experiments(registry: ModelRegistry, live_server: Any) -> Any:
    routing = ExperimentRouting(
        registry.metadata.experiments,
        ExposureLog(facts.store(create=True), batch_size=1_000_000, interval=0.2),
        poll_seconds=0.1,
    )
    live = live_server(create_app([], registry, experiments=routing))
    live.wait_ready()
    return live


def stop(live: Any) -> None:
    live.server.should_exit = True
    live.thread.join(timeout=10)


def test_concurrent_requests_follow_the_allocation_and_each_is_one_exposure(
    registry: ModelRegistry, experiment: str, live_server: Any
) -> None:
    live = serve_experiments(registry, live_server)
    units = [f"member-{i}" for i in range(400)]

    def score(client: httpx.Client, unit: str) -> dict[str, Any]:
        response = client.post(f"/v1/experiments/{experiment}/predict", json=ROW | {"unit": unit})
        assert response.status_code == 200, response.text
        return response.json()

    with live.client() as client, ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda unit: score(client, unit), units))
    stop(live)  # a clean shutdown: every buffered exposure is written

    expected = {"control": (1, 2.0), "treatment": (2, 4.0)}
    for unit, answer in zip(units, answers, strict=True):
        assert answer["cell"] == experiments.assign(experiment, unit)
        assert (answer["version"], answer["predictions"][0]) == pytest.approx(
            expected[answer["cell"]]
        )
    treated = sum(answer["cell"] == "treatment" for answer in answers)
    assert abs(treated - 200) < 40  # 4 standard deviations of Binomial(400, 0.5)

    exposures = facts.read(EXPOSURES)
    assert len(exposures) == len(units)
    assert sorted(exposures["unit"]) == sorted(units)
    by_unit = dict(zip(exposures["unit"], exposures["cell"], strict=True))
    assert all(by_unit[a["unit"]] == a["cell"] for a in answers)
    assert set(exposures["version"]) <= {1, 2}


def test_a_stop_is_picked_up_and_then_the_control_is_served(
    registry: ModelRegistry, experiment: str, live_server: Any
) -> None:
    live = serve_experiments(registry, live_server)
    unit = next(
        f"m{i}" for i in range(100) if experiments.assign(experiment, f"m{i}") == "treatment"
    )
    with live.client() as client:
        before = client.post(f"/v1/experiments/{experiment}/predict", json=ROW | {"unit": unit})
        assert (before.json()["cell"], before.json()["version"]) == ("treatment", 2)

        experiments.stop(experiment)
        wait_for(
            lambda: client.get(f"/v1/experiments/{experiment}/assignment", params={"unit": unit})
            .json()["state"] == "stopped",
            10,
            "the stop seen by the server",
        )  # fmt: skip
        after = client.post(f"/v1/experiments/{experiment}/predict", json=ROW | {"unit": unit})
        assert after.status_code == 200
        assert (after.json()["cell"], after.json()["version"]) == ("control", 1)
        assert after.json()["predictions"] == [pytest.approx(2.0)]
    stop(live)
    assert len(facts.read(EXPOSURES)) == 1  # requests after the stop are not exposures


def test_bad_requests_get_4xx_saying_what_is_wrong(
    registry: ModelRegistry, experiment: str, live_server: Any
) -> None:
    live = serve_experiments(registry, live_server)
    with live.client() as client:
        unknown = client.post("/v1/experiments/nope/predict", json=ROW | {"unit": "m1"})
        assert unknown.status_code == 404
        assert "'nope' is not running here (served: ranker-v4)" in unknown.json()["error"]

        no_unit = client.post(f"/v1/experiments/{experiment}/predict", json=ROW)
        assert no_unit.status_code == 422
        assert "unit" in no_unit.json()["error"]

        bad_rows = client.post(
            f"/v1/experiments/{experiment}/predict", json={"unit": "m1", "records": [{"x9": 1}]}
        )
        assert bad_rows.status_code == 422
        assert "x1" in bad_rows.json()["error"]

        no_query = client.get(f"/v1/experiments/{experiment}/assignment")
        assert no_query.status_code == 422
        assert "unit" in no_query.json()["error"]
    stop(live)
    assert len(facts.read(EXPOSURES)) == 0  # nothing was scored, nothing was exposed


def test_serve_needs_a_model_or_the_experiments() -> None:
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 2
    assert "give at least one REF to serve, or --experiments" in result.output
