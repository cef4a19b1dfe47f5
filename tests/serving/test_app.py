"""The scoring API over HTTP: predictions, model listings, probes, metrics and OpenAPI."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from shipyard.serving.app import create_app

from ..waiting import wait_for
from .conftest import HeldSource, Hold, MemorySource


def test_predict_takes_records(source: MemorySource, live_server) -> None:
    live = live_server(create_app(["ranker@production"], source))
    live.wait_ready()
    with live.client() as client:
        response = client.post(
            "/v1/models/ranker/predict",
            json={"records": [{"x1": 1.0, "x2": 2.0}, {"x1": 0.5, "x2": 0.5}]},
        )
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == "ranker" and body["version"] == 1
    assert body["predictions"] == pytest.approx([3.0, 1.0])


def test_predict_takes_columns_and_integers(source: MemorySource, live_server) -> None:
    live = live_server(create_app(["ranker@production"], source))
    live.wait_ready()
    with live.client() as client:
        response = client.post(
            "/v1/models/ranker/predict", json={"columns": {"x1": [1, 2, 3], "x2": [0, 0, 1]}}
        )
    assert response.status_code == 200
    assert response.json()["predictions"] == pytest.approx([1.0, 2.0, 4.0])


def test_serves_several_models_at_once(source: MemorySource, live_server) -> None:
    live = live_server(create_app(["ranker@production", "scorer/3"], source))
    live.wait_ready()
    rows = {"records": [{"x1": 1.0, "x2": 1.0}]}
    with live.client() as client:
        ranker = client.post("/v1/models/ranker/predict", json=rows).json()
        scorer = client.post("/v1/models/scorer/predict", json=rows).json()
        listing = client.get("/v1/models").json()["models"]
    assert (ranker["version"], ranker["predictions"]) == (1, pytest.approx([2.0]))
    assert (scorer["version"], scorer["predictions"]) == (3, pytest.approx([-2.0]))
    assert [(m["name"], m["ref"], m["version"]) for m in listing] == [
        ("ranker", "ranker@production", 1),
        ("scorer", "scorer/3", 3),
    ]


def test_model_info_shows_flavor_and_signature(source: MemorySource, live_server) -> None:
    live = live_server(create_app(["ranker@production"], source))
    live.wait_ready()
    with live.client() as client:
        info = client.get("/v1/models/ranker").json()
        missing = client.get("/v1/models/nope")
    assert info["flavor"] == "sklearn" and info["ready"] is True
    assert [(c["name"], c["type"]) for c in info["signature"]["inputs"]] == [
        ("x1", "float"),
        ("x2", "float"),
    ]
    assert missing.status_code == 404 and "'nope' is not served" in missing.json()["error"]


def test_readyz_is_503_until_every_model_loads(source: MemorySource, live_server) -> None:
    loads = Hold()
    live = live_server(create_app(["ranker@production", "scorer/3"], HeldSource(source, loads)))
    with live.client() as client:
        before = client.get("/readyz")
        assert client.get("/healthz").status_code == 200
        early = client.post("/v1/models/ranker/predict", json={"records": [{"x1": 1, "x2": 1}]})
        loads.release()
        live.wait_ready()
        after = client.get("/readyz")
    assert before.status_code == 503 and before.json()["ready"] is False
    assert early.status_code == 503 and "not loaded yet" in early.json()["error"]
    assert after.status_code == 200 and after.json()["models"] == {"ranker": 1, "scorer": 3}


def test_readyz_stays_503_when_a_model_never_loads(source: MemorySource, live_server) -> None:
    source.fail_loads.add(("scorer", 3))
    live = live_server(create_app(["ranker@production", "scorer/3"], source))
    with live.client() as client:
        wait_for(lambda: client.get("/v1/models/scorer").json()["last_error"], 10, "a failure")
        # The model that loaded serves regardless.
        served = client.post("/v1/models/ranker/predict", json={"records": [{"x1": 1, "x2": 1}]})
        ready = client.get("/readyz")
        info = client.get("/v1/models/scorer").json()
    assert served.status_code == 200
    assert ready.status_code == 503 and ready.json()["models"] == {"ranker": 1, "scorer": None}
    assert "corrupt" in info["last_error"] and info["ready"] is False


def test_metrics_count_requests_errors_and_latency(source: MemorySource, live_server) -> None:
    live = live_server(create_app(["ranker@production"], source))
    live.wait_ready()
    with live.client() as client:
        for _ in range(3):
            client.post("/v1/models/ranker/predict", json={"records": [{"x1": 1, "x2": 1}]})
        client.post("/v1/models/ranker/predict", json={"records": [{"x1": 1}]})
        client.post("/v1/models/ghost/predict", json={"records": [{"x1": 1}]})
        text = client.get("/metrics").text
    assert 'shipyard_serving_requests_total{code="200",model="ranker",version="1"} 3.0' in text
    assert 'shipyard_serving_requests_total{code="422",model="ranker",version="1"} 1.0' in text
    assert 'shipyard_serving_requests_total{code="404",model="(unknown)",version="none"}' in text
    assert 'shipyard_serving_errors_total{kind="InvalidInput",model="ranker",version="1"}' in text
    assert 'shipyard_serving_request_duration_seconds_count{model="ranker",version="1"} 4.0' in (
        text
    )
    assert 'shipyard_serving_batch_rows_count{model="ranker",version="1"} 3.0' in text
    assert 'shipyard_serving_model_version{model="ranker"} 1.0' in text


def test_each_app_has_its_own_metrics(source: MemorySource) -> None:
    first = create_app(["ranker@production"], source)
    second = create_app(["ranker@production"], source)
    assert first.state.metrics.registry is not second.state.metrics.registry


def test_openapi_publishes_request_and_response_models(source: MemorySource, live_server) -> None:
    live = live_server(create_app(["ranker@production"], source))
    with live.client() as client:
        schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/v1/models/{name}/predict"]["post"]
    request = operation["requestBody"]["content"]["application/json"]["schema"]
    assert request == {"$ref": "#/components/schemas/PredictRequest"}
    assert {"records", "columns"} <= set(
        schema["components"]["schemas"]["PredictRequest"]["properties"]
    )
    assert {"200", "400", "404", "413", "422", "500", "503"} <= set(operation["responses"])
    assert "PredictResponse" in schema["components"]["schemas"]


def test_refuses_two_references_to_one_model(source: MemorySource) -> None:
    with pytest.raises(ValueError, match="ranker"):
        create_app(["ranker@production", "ranker/2"], source)


def test_refuses_a_malformed_reference(source: MemorySource) -> None:
    with pytest.raises(ValueError, match="is not a model reference"):
        create_app(["ranker@"], source)


def test_shutdown_lets_requests_in_flight_finish(source: MemorySource, live_server) -> None:
    hold = Hold()
    live = live_server(create_app(["ranker@production"], HeldSource(source, predicts=hold)))
    live.wait_ready()
    with ThreadPoolExecutor(1) as pool:
        body = {"records": [{"x1": 1, "x2": 1}]}
        in_flight = pool.submit(httpx.post, live.url + "/v1/models/ranker/predict", json=body)
        hold.wait_entered()
        live.server.should_exit = True  # what uvicorn's SIGINT/SIGTERM handler does
        wait_for(lambda: refuses_connections(live.url), 10, "the server stopped listening")
        hold.release()  # the request in flight finishes during the shutdown
        response = in_flight.result(timeout=10)
    assert response.status_code == 200 and response.json()["predictions"] == pytest.approx([2.0])
    live.thread.join(timeout=10)
    assert not live.thread.is_alive()


def refuses_connections(url: str) -> bool:
    address = httpx.URL(url)
    try:
        socket.create_connection((address.host, address.port or 80), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_openapi_types_each_served_models_rows_to_its_columns(registry, live_server) -> None:
    live = live_server(create_app(["ranker@production", "scorer"], registry))
    live.wait_ready()
    with live.client() as client:
        document = client.get("/openapi.json").json()
    operation = document["paths"]["/v1/models/ranker/predict"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    row = body["properties"]["records"]["items"]
    assert row["required"] == ["x1", "x2"] and row["additionalProperties"] is False
    assert row["properties"]["x1"] == {"type": "number"}  # LinearRegression takes no NaN
    assert row["properties"]["x2"] == {
        "type": "integer",
        "minimum": -(2**63),
        "maximum": 2**63 - 1,
    }
    assert body["properties"]["columns"]["properties"]["x2"]["items"] == row["properties"]["x2"]
    generic = document["paths"]["/v1/models/{name}/predict"]["post"]["parameters"][0]
    assert generic["schema"]["enum"] == ["ranker", "scorer"]
