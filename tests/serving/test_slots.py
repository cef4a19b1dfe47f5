"""Model slots follow alias moves without a restart and without failing a request."""

from __future__ import annotations

import pytest

from shipyard.serving.app import create_app

from ..waiting import wait_for
from .conftest import HeldSource, Hold, MemorySource, SteadyLoad

PREDICT = "/v1/models/ranker/predict"


def test_an_alias_move_is_picked_up_under_load_without_a_failed_request(
    source: MemorySource, live_server
) -> None:
    held = HeldSource(source)
    live = live_server(create_app(["ranker@production"], held, poll_seconds=0.05))
    live.wait_ready()
    loading = Hold()
    held.loads = loading  # the new version loads while the old one keeps serving
    with SteadyLoad(live.url, PREDICT, 8, lambda seed, i: record(x1=seed, x2=i)) as load:
        load.wait_until(lambda answers: all(answers), "an answer for every client")
        source.set_alias("ranker", "production", 2)
        loading.wait_entered()
        before = [len(answers) for answers in load.answers]
        load.wait_until(
            lambda answers: all(len(a) > n for a, n in zip(answers, before, strict=True)),
            "every client answered while the new version loads",
        )
        loading.release()
        load.wait_until(
            lambda answers: all(a[-1].version == 2 for a in answers),
            "every client answered by the new version",
        )
    results = load.answers

    assert all(answer.status == 200 for seen in results for answer in seen)
    for seed, seen in enumerate(results):
        versions = [answer.version for answer in seen]
        assert versions[0] == 1 and versions[-1] == 2
        assert versions == sorted(versions)  # never back to the old version
        for i, answer in enumerate(seen):
            slope = 1.0 if answer.version == 1 else 2.0
            assert answer.body["predictions"][0] == pytest.approx(slope * (seed + i))
    # Each client's first answer after the load began came before it ended: from version 1.
    assert all(seen[n].version == 1 for seen, n in zip(results, before, strict=True))


def record(**values: float) -> dict[str, list[dict[str, float]]]:
    return {"records": [values]}


def test_a_failed_load_keeps_the_old_version(source: MemorySource, live_server) -> None:
    source.fail_loads.add(("ranker", 2))
    live = live_server(create_app(["ranker@production"], source, poll_seconds=0.05))
    live.wait_ready()
    source.set_alias("ranker", "production", 2)
    with live.client() as client:
        wait_for(lambda: client.get("/v1/models/ranker").json()["last_error"], 10, "failure")
        info = client.get("/v1/models/ranker").json()
        response = client.post(PREDICT, json={"records": [{"x1": 1, "x2": 1}]})
        assert "cannot load ranker/2" in info["last_error"]
        assert "still serving ranker/1" in info["last_error"]
        assert response.status_code == 200 and response.json()["version"] == 1
        # Once the version can load, the slot moves on.
        source.fail_loads.clear()
        wait_for(lambda: client.get("/v1/models/ranker").json()["version"] == 2, 10, "retry")
        assert 'outcome="failed"' in client.get("/metrics").text


def test_a_registry_outage_keeps_serving(source: MemorySource, live_server) -> None:
    live = live_server(create_app(["ranker@production"], source, poll_seconds=0.05))
    live.wait_ready()
    source.aliases.clear()  # resolve now raises ObjectNotFound
    with live.client() as client:
        wait_for(lambda: client.get("/v1/models/ranker").json()["last_error"], 10, "failure")
        response = client.post(PREDICT, json={"records": [{"x1": 1, "x2": 1}]})
    assert response.status_code == 200 and response.json()["version"] == 1
