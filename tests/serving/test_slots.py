"""Model slots follow alias moves without a restart and without failing a request."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from shipyard.serving.app import create_app

from .conftest import MemorySource, wait_for

PREDICT = "/v1/models/ranker/predict"


def test_an_alias_move_is_picked_up_under_load_without_a_failed_request(
    source: MemorySource, live_server
) -> None:
    source.load_delay = 0.3  # the new version loads while the old one keeps serving
    live = live_server(create_app(["ranker@production"], source, poll_seconds=0.05))
    live.wait_ready()
    stop = threading.Event()
    deadline = time.monotonic() + 20

    def client_loop(seed: int) -> list[tuple[int, int | None]]:
        seen: list[tuple[int, int | None]] = []
        with httpx.Client(base_url=live.url, timeout=10) as client:
            for i in range(400):  # bounded in requests and in time
                if (stop.is_set() and i > 20) or time.monotonic() > deadline:
                    break
                response = client.post(PREDICT, json={"records": [{"x1": seed, "x2": i}]})
                body = response.json()
                seen.append((response.status_code, body.get("version")))
                if response.status_code == 200:
                    slope = 1.0 if body["version"] == 1 else 2.0
                    assert abs(body["predictions"][0] - slope * (seed + i)) < 1e-6
        return seen

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(client_loop, seed) for seed in range(8)]
        time.sleep(0.3)
        source.set_alias("ranker", "production", 2)
        wait_for(
            lambda: httpx.get(live.url + "/v1/models/ranker").json()["version"] == 2, 10, "swap"
        )
        time.sleep(0.3)
        stop.set()
        results = [f.result(timeout=30) for f in futures]

    statuses = [status for seen in results for status, _ in seen]
    assert statuses and set(statuses) == {200}
    for seen in results:
        versions = [version for _, version in seen]
        assert versions[0] == 1 and versions[-1] == 2
        assert versions == sorted(versions)  # never back to the old version


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
