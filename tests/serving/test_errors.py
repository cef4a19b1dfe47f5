"""Every kind of bad input gets a 4xx JSON error naming what is wrong, never a 500."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pandas as pd
import pytest
import xgboost
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from shipyard.registry import ModelRegistry
from shipyard.serving.app import create_app

from .conftest import LiveServer, MemorySource, example_frame, fitted_model

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


# -- a model registered without an input example, and values no model can take -------------


@pytest.fixture
def unexampled(home, live_server) -> Iterator[LiveServer]:
    """`loans`, a scikit-learn pipeline fitted on a frame and registered without an input
    example (validated by the signature the registry read from the model), `ranker` with
    one, and `boost`, an XGBoost model, which takes missing values."""
    frame = pd.DataFrame(
        {"income": [10.0, 20.0, 30.0, 40.0], "city": ["Oslo", "Rome", "Oslo", "Rome"]}
    )
    columns = ColumnTransformer(
        [("income", StandardScaler(), ["income"]), ("city", OneHotEncoder(), ["city"])]
    )
    registry = ModelRegistry.from_config()
    registry.register("loans", make_pipeline(columns, LogisticRegression()).fit(frame, [0, 1] * 2))
    registry.register("ranker", fitted_model(1.0), input_example=example_frame())
    numbers = example_frame()
    registry.register("boost", xgboost.XGBRegressor(n_estimators=2).fit(numbers, numbers["x1"]))
    server = live_server(create_app(["loans", "ranker", "boost"], registry))
    server.wait_ready()
    yield server
    registry.metadata.close()


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"income": 1.0, "town": "Oslo"}, "missing column(s): city; unexpected column(s): town"),
        ({"income": "high", "city": "Oslo"}, "column 'income', row 0: 'high' is not a float"),
        ({"income": None, "city": "Oslo"}, "column 'income', row 0: a missing value"),
        ({"income": 1.0, "city": 7}, "column 'city', row 0: 7 is not a string"),
        ({"income": 1.0, "city": "Lima"}, "loans/1 refused the input: Found unknown categor"),
    ],
)
def test_a_model_registered_without_an_example_refuses_bad_rows_with_422(
    unexampled: LiveServer, record: dict, message: str
) -> None:
    status, error = _post(unexampled, "/v1/models/loans/predict", json={"records": [record]})
    assert status == 422 and message in error


def test_the_models_own_refusal_is_counted_as_a_client_error(unexampled: LiveServer) -> None:
    body = {"records": [{"income": 1.0, "city": "Lima"}]}
    status, _ = _post(unexampled, "/v1/models/loans/predict", json=body)
    metrics = httpx.get(unexampled.url + "/metrics").text
    assert status == 422
    assert 'shipyard_serving_errors_total{kind="InvalidInput",model="loans",version="1"} 1.0' in (
        metrics
    )
    assert 'code="500"' not in metrics


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("NaN", "column 'x1', row 1: a missing value"),
        ("null", "column 'x1', row 1: a missing value"),
        ("Infinity", "column 'x1', row 1: inf is not a finite number"),
        ("-Infinity", "column 'x1', row 1: -inf is not a finite number"),
        ("1e400", "column 'x1', row 1: inf is not a finite number"),
    ],
)
def test_a_float_no_model_can_take_is_a_422_naming_column_row_and_value(
    unexampled: LiveServer, value: str, message: str
) -> None:
    body = '{"records": [{"x1": 1.0, "x2": 1}, {"x1": VALUE, "x2": 2}]}'.replace("VALUE", value)
    status, error = _post(
        unexampled, content=body.encode(), headers={"content-type": "application/json"}
    )
    assert status == 422 and message in error


@pytest.mark.parametrize("value", [10**30, -(10**30), 2**63])
def test_an_integer_beyond_64_bits_is_a_422_naming_column_row_and_value(
    unexampled: LiveServer, value: int
) -> None:
    body = {"columns": {"x1": [1.0, 2.0], "x2": [1, value]}}
    status, error = _post(unexampled, json=body)
    assert status == 422
    assert f"column 'x2', row 1: {value} is outside the range of a 64-bit integer" in error


def test_missing_values_pass_where_the_signature_allows_them(unexampled: LiveServer) -> None:
    body = b'{"records": [{"x1": null, "x2": 1}, {"x1": NaN, "x2": 2}]}'
    with unexampled.client() as client:
        response = client.post(
            "/v1/models/boost/predict", content=body, headers={"content-type": "application/json"}
        )
        infinite = client.post(
            "/v1/models/boost/predict",
            content=b'{"records": [{"x1": Infinity, "x2": 1}]}',
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 200 and len(response.json()["predictions"]) == 2
    assert infinite.status_code == 422 and "inf is not a finite number" in infinite.json()["error"]


def test_a_405_says_which_methods_are_allowed(live: LiveServer) -> None:
    with live.client() as client:
        response = client.get(PREDICT)
    assert response.status_code == 405 and response.headers["allow"] == "POST"
