"""Every kind of bad input gets a 4xx JSON error naming what is wrong, never a 500."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from shipyard.serving.app import create_app

from .conftest import LiveServer, MemorySource

PREDICT = "/v1/models/ranker/predict"


@pytest.fixture
def live(registry, live_server) -> Iterator[LiveServer]:
    """`ranker` as registered with an input example: validated by the signature the
    registry inferred from it (x1 float, x2 integer)."""
    server = live_server(create_app(["ranker@production"], registry, max_body_bytes=10_000))
    server.wait_ready()
    yield server


def _post(live: LiveServer, path: str = PREDICT, **kwargs) -> tuple[int, str]:
    with live.client() as client:
        response = client.post(path, **kwargs)
        assert response.headers["content-type"] == "application/json"
        return response.status_code, response.json()["error"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"records": [{"x1": 1.0}]}, "missing column(s): x2"),
        ({"records": [{"x1": 1, "x2": 2, "x3": 3}]}, "unexpected column(s): x3"),
        ({"columns": {"x1": ["a"], "x2": [1]}}, "column 'x1', row 0: 'a' is not a float"),
        ({"records": [{"x1": 1, "x2": {"a": 1}}]}, "records.0.x2: must be a number"),
        ({"records": []}, "empty input"),
        (
            {"records": [{"x1": 1, "x2": 1}, {"x1": 1}]},
            "record 1 does not have the columns of record 0 (missing: x2; extra: none)",
        ),
        ({"columns": {}}, "empty input"),
        ({"columns": {"x1": [], "x2": []}}, "empty input"),
        ({"columns": {"x1": [1, 2], "x2": [1]}}, "same length"),
        ({"rows": [{"x1": 1}]}, "either 'records'"),
        ({"records": [{"x1": 1, "x2": 1}], "columns": {"x1": [1]}}, "not both"),
        ([1, 2, 3], "JSON object"),
        ({"records": [1, 2]}, "records.0"),
        ({"records": [{"x1": 1, "x2": 1}], "extra": 1}, "extra"),
    ],
)
def test_invalid_rows_get_422_naming_the_problem(live: LiveServer, body, message: str) -> None:
    status, error = _post(live, json=body)
    assert status == 422
    assert message in error


def test_malformed_json_gets_400(live: LiveServer) -> None:
    status, error = _post(
        live, content=b'{"records": [', headers={"content-type": "application/json"}
    )
    assert status == 400 and "malformed JSON" in error


def test_body_without_json_content_type_gets_422(live: LiveServer) -> None:
    status, error = _post(live, content=b'{"records": []}', headers={"content-type": "text/plain"})
    assert status == 422 and "Content-Type: application/json" in error


def test_missing_body_gets_422(live: LiveServer) -> None:
    status, error = _post(live)
    assert status == 422 and "no body" in error


def test_too_large_body_gets_413(live: LiveServer) -> None:
    records = [{"x1": 1.0, "x2": 2.0}] * 1000
    status, error = _post(live, json={"records": records})
    assert status == 413 and "limit is 10000 bytes" in error


def test_too_large_chunked_body_gets_413(live: LiveServer) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"records": ['
        for _ in range(1000):
            yield b'{"x1": 1.0, "x2": 2.0},'
        yield b'{"x1": 1.0, "x2": 2.0}]}'

    status, error = _post(live, content=chunks(), headers={"content-type": "application/json"})
    assert status == 413 and "too large" in error
    metrics = httpx.get(live.url + "/metrics").text
    assert (
        'shipyard_serving_errors_total{kind="BodyTooLarge",model="ranker",version="1"}' in metrics
    )


def test_unknown_model_gets_404(live: LiveServer) -> None:
    status, error = _post(live, "/v1/models/ghost/predict", json={"records": [{"x1": 1}]})
    assert status == 404 and "'ghost' is not served here (served: ranker)" in error


def test_unknown_path_and_method_get_json_errors(live: LiveServer) -> None:
    with live.client() as client:
        assert client.get("/nowhere").status_code == 404
        wrong = client.get(PREDICT)
    assert wrong.status_code == 405 and wrong.json()["error"]


def test_a_model_exception_is_a_500_and_the_server_keeps_serving(
    source: MemorySource, live_server
) -> None:
    broken = source.add("broken", 1, slope=1.0, signature=None)
    broken.estimator = None  # predict raises AttributeError
    live = live_server(create_app(["broken/1", "ranker@production"], source))
    live.wait_ready()
    status, error = _post(live, "/v1/models/broken/predict", json={"records": [{"x1": 1, "x2": 1}]})
    assert status == 500 and "broken/1 failed to predict: AttributeError" in error
    with live.client() as client:
        ok = client.post(PREDICT, json={"records": [{"x1": 1, "x2": 1}]})
        metrics = client.get("/metrics").text
    assert ok.status_code == 200
    assert (
        'shipyard_serving_errors_total{kind="PredictionFailed",model="broken",version="1"} 1.0'
        in (metrics)
    )


def test_non_finite_predictions_are_sent_as_null(source: MemorySource, live_server) -> None:
    model = source.add("odd", 1, slope=1.0, signature=None)
    model.predict = lambda frame: [float("nan"), float("inf"), 1.5][: len(frame)]  # type: ignore[method-assign]
    live = live_server(create_app(["odd/1"], source))
    live.wait_ready()
    with live.client() as client:
        response = client.post("/v1/models/odd/predict", json={"columns": {"x": [1, 2, 3]}})
    assert response.status_code == 200 and response.json()["predictions"] == [None, None, 1.5]
