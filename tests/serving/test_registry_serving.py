"""End to end over HTTP with the real registry: models registered into a temporary store and
served by a real server."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from shipyard.registry import ModelRegistry
from shipyard.serving.app import create_app

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
    moved = threading.Event()
    deadline = time.monotonic() + 30

    def client_loop(seed: int) -> list[tuple[int, int | None]]:
        seen: list[tuple[int, int | None]] = []
        with httpx.Client(base_url=live.url, timeout=10) as client:
            for i in range(300):  # bounded: at most 300 requests and 30 seconds per client
                # Stop after ten answers from the new version, or at the deadline.
                if moved.is_set() and sum(1 for _, v in seen if v == 2) >= 10:
                    break
                if time.monotonic() > deadline:
                    break
                response = client.post(PREDICT, json={"records": [{"x1": seed, "x2": i % 10}]})
                seen.append((response.status_code, response.json().get("version")))
        return seen

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(client_loop, seed) for seed in range(8)]
        time.sleep(0.5)
        ModelRegistry.from_config().set_alias("ranker", "production", 2)
        moved.set()
        results = [f.result(timeout=60) for f in futures]

    assert all(status == 200 for seen in results for status, _ in seen)
    for seen in results:
        versions = [version for _, version in seen]
        assert versions[0] == 1 and versions[-1] == 2 and versions == sorted(versions)
