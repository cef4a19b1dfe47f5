"""End to end over HTTP with the real registry: models registered into a temporary store and
served by a real server."""

from __future__ import annotations

import pytest

from shipyard.registry import ModelRegistry
from shipyard.serving.app import create_app

from .conftest import SteadyLoad

PREDICT = "/v1/models/ranker/predict"


def test_serves_registered_models_with_their_signature(registry, live_server) -> None:
    live = live_server(create_app(["ranker@production", "scorer"], registry))
    live.wait_ready()
    with live.client() as client:
        ranker = client.post(PREDICT, json={"records": [{"x1": 0.5, "x2": 2}]})
        scorer = client.post("/v1/models/scorer/predict", json={"columns": {"x1": [1], "x2": [1]}})
        wrong_type = client.post(PREDICT, json={"records": [{"x1": 0.5, "x2": "two"}]})
        fractional = client.post(PREDICT, json={"records": [{"x1": 0.5, "x2": 2.5}]})
        missing = client.post(PREDICT, json={"records": [{"x1": 0.5}]})
        info = client.get("/v1/models/ranker").json()
    assert ranker.json()["version"] == 1
    assert ranker.json()["predictions"] == pytest.approx([2.5])
    assert scorer.json()["predictions"] == pytest.approx([-2.0])
    assert wrong_type.status_code == 422
    assert "column 'x2', row 0: 'two' is not an integer" in wrong_type.json()["error"]
    assert fractional.status_code == 422 and "2.5 is not an integer" in fractional.json()["error"]
    assert missing.status_code == 422 and "missing column(s): x2" in missing.json()["error"]
    assert info["signature"]["inputs"] == [
        {"name": "x1", "type": "float"},
        {"name": "x2", "type": "integer"},
    ]
    assert info["flavor"] == "sklearn"


def test_an_alias_move_in_the_registry_is_served_under_load_without_failures(
    registry, live_server
) -> None:
    live = live_server(create_app(["ranker@production"], registry, poll_seconds=0.1))
    live.wait_ready()

    def body(seed: int, i: int) -> dict:
        return {"records": [{"x1": seed, "x2": i % 10}]}

    with SteadyLoad(live.url, PREDICT, 8, body) as load:
        load.wait_until(lambda answers: all(answers), "an answer for every client")
        ModelRegistry.from_config().set_alias("ranker", "production", 2)
        load.wait_until(
            lambda answers: all(sum(a.version == 2 for a in seen) >= 10 for seen in answers),
            "ten answers from the new version for every client",
        )
    results = load.answers

    assert all(answer.status == 200 for seen in results for answer in seen)
    for seen in results:
        versions = [answer.version for answer in seen]
        assert versions[0] == 1 and versions[-1] == 2 and versions == sorted(versions)
