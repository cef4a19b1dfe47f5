"""Micro-batching: concurrent requests share one predict call, and bad ones fail alone."""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from shipyard.serving.app import create_app

from .conftest import Arrivals, HeldSource, Hold, LiveServer, MemorySource

PREDICT = "/v1/models/ranker/predict"


def _post_many(live: LiveServer, bodies: list[dict], *, threads: int) -> list[httpx.Response]:
    with httpx.Client(base_url=live.url, timeout=10) as client, ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda body: client.post(PREDICT, json=body), bodies))


@dataclass
class HeldServer:
    """A live server whose model's predict calls wait at `hold` until the test releases it."""

    live: LiveServer
    arrivals: Arrivals
    hold: Hold

    def burst(self, first: dict, bodies: list[dict]) -> list[httpx.Response]:
        """Sends `first`, then all of `bodies` while the model is held scoring it alone, so
        that they all queue up and are scored as one group; returns the answers to `bodies`."""
        url = self.live.url + self.arrivals.path
        with httpx.Client(timeout=15) as client, ThreadPoolExecutor(len(bodies) + 1) as pool:
            blocker = pool.submit(client.post, url, json=first)
            self.hold.wait_entered()  # `first` is being scored, alone
            futures = [pool.submit(client.post, url, json=body) for body in bodies]
            self.arrivals.wait_for(1 + len(bodies))  # every other request waits behind it
            self.hold.release()
            assert blocker.result().status_code == 200
            return [future.result() for future in futures]


@pytest.fixture
def held_server(live_server) -> Callable[..., HeldServer]:
    """Serves one model of a source (the registry, a `MemorySource`) with its predict calls held."""

    def serve(source: Any, ref: str, **options: Any) -> HeldServer:
        hold = Hold()
        held = HeldSource(source, predicts=hold)
        name = ref.split("@")[0].split("/")[0]
        arrivals = Arrivals(create_app([ref], held, **options), f"/v1/models/{name}/predict")
        live = live_server(arrivals)
        live.wait_ready()
        return HeldServer(live, arrivals, hold)

    return serve


def _batches(live: LiveServer, model: str) -> tuple[float, float]:
    """How many predict calls the model made, and how many requests they served."""
    text = httpx.get(live.url + "/metrics").text
    count = re.search(
        rf'shipyard_serving_batch_requests_count{{model="{model}"[^}}]*}} (\S+)', text
    )
    total = re.search(rf'shipyard_serving_batch_requests_sum{{model="{model}"[^}}]*}} (\S+)', text)
    assert count and total
    return float(count[1]), float(total[1])


def test_concurrent_requests_share_predict_calls(source: MemorySource, live_server) -> None:
    model = source.models[("ranker", 1)]
    model.delay = 0.02
    live = live_server(create_app(["ranker@production"], source, max_batch=64, max_wait_ms=5))
    live.wait_ready()
    bodies = [{"records": [{"x1": float(i), "x2": 0.0}]} for i in range(160)]
    responses = _post_many(live, bodies, threads=16)
    assert [r.status_code for r in responses] == [200] * 160
    assert [r.json()["predictions"][0] for r in responses] == pytest.approx(
        [float(i) for i in range(160)]
    )
    assert sum(model.calls) == 160
    assert len(model.calls) < 80 and max(model.calls) > 1
    assert _batches(live, "ranker") == (len(model.calls), 160)


def test_a_batch_never_exceeds_max_batch_rows(source: MemorySource, held_server) -> None:
    model = source.models[("ranker", 1)]
    server = held_server(source, "ranker@production", max_batch=8, max_wait_ms=5)
    bodies = [{"records": [{"x1": 1.0, "x2": 1.0}] * 3} for _ in range(40)]
    responses = server.burst(bodies[0], bodies[1:])
    assert all(r.status_code == 200 and len(r.json()["predictions"]) == 3 for r in responses)
    assert max(model.calls) <= 8
    assert 6 in model.calls  # two 3-row requests shared a call; a third would have made 9
    # A request larger than max_batch is scored on its own, not refused.
    big = httpx.post(server.live.url + PREDICT, json={"records": [{"x1": 1, "x2": 1}] * 20})
    assert big.status_code == 200 and len(big.json()["predictions"]) == 20


def test_an_invalid_request_fails_alone_in_its_batch(registry, held_server) -> None:
    server = held_server(registry, "ranker@production", max_wait_ms=50)
    good = {"records": [{"x1": 1.0, "x2": 1.0}]}
    bad = {"records": [{"x1": "not a number", "x2": 1.0}]}
    responses = server.burst(good, [bad if i == 4 else good for i in range(10)])
    assert [r.status_code for r in responses] == [200] * 4 + [422] + [200] * 5
    assert "column 'x1', row 0: 'not a number' is not a float" in responses[4].json()["error"]
    # Two groups: the first request's, then the ten (of which nine were scored).
    assert _batches(server.live, "ranker") == (2, 10)


def test_a_model_failure_on_one_request_spares_the_others(
    source: MemorySource, held_server
) -> None:
    model = source.add("picky", 1, slope=1.0, signature=None)
    real_predict = model.predict

    def predict(frame):
        if (frame["x1"] == 666).any():
            raise ValueError("666 is cursed")
        return real_predict(frame)

    model.predict = predict  # type: ignore[method-assign]
    server = held_server(source, "picky/1", max_wait_ms=50)
    bodies = [{"records": [{"x1": 666 if i == 2 else i, "x2": 0}]} for i in range(6)]
    first = {"records": [{"x1": -1, "x2": 0}]}
    responses = server.burst(first, bodies)
    assert [r.status_code for r in responses] == [200, 200, 500, 200, 200, 200]
    assert "picky/1 failed to predict: ValueError: 666 is cursed" in responses[2].json()["error"]
    assert [r.json()["predictions"] for i, r in enumerate(responses) if i != 2] == [
        pytest.approx([float(i)]) for i in (0, 1, 3, 4, 5)
    ]
    assert _batches(server.live, "picky") == (2, 6)
