"""A typed fuzz of the scoring API from its own OpenAPI document: no request is ever a 5xx.

schemathesis reads `/openapi.json` from a real server on 127.0.0.1 and generates requests
for every operation, the predict path of each served model typed to its columns (so most
rows are well-formed and reach the model, with edge values: huge integers, long strings,
extreme floats) and the generic predict path with rows of any scalars. Whatever comes in,
the answer is a success or the client's error, never the server's. The models are a
scikit-learn pipeline fitted on a frame of integer, float and string columns registered
*without* an input example (its signature is the one inferred from the model) and a model
registered with one. Examples are bounded and derandomized: the run is the same every time
and takes seconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from shipyard.registry import ModelRegistry
from shipyard.serving.app import create_app

from .conftest import example_frame, fitted_model

EXAMPLES_PER_OPERATION = 150


def _loan_model() -> object:
    """A classifier over an integer, a float and a string column, fitted on a frame."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 90, size=200),
            "income": rng.normal(50_000, 10_000, size=200),
            "city": rng.choice(["Oslo", "Rome", "Lima"], size=200),
        }
    )
    labels = (frame["income"] > 50_000).astype(int)
    columns = ColumnTransformer(
        [
            ("numbers", StandardScaler(), ["age", "income"]),
            ("city", OneHotEncoder(handle_unknown="ignore"), ["city"]),
        ]
    )
    return make_pipeline(columns, LogisticRegression()).fit(frame, labels)


@pytest.fixture
def server(home, live_server):
    registry = ModelRegistry.from_config()
    registry.register("loans", _loan_model())
    registry.register("ranker", fitted_model(1.0), input_example=example_frame())
    live = live_server(create_app(["loans", "ranker"], registry))
    live.wait_ready()
    yield live
    registry.metadata.close()


def test_the_scoring_api_never_answers_5xx_to_generated_requests(server) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    typed = [path for path in schema.raw_schema["paths"] if path.startswith("/v1/models/")]
    assert {"/v1/models/loans/predict", "/v1/models/ranker/predict"} <= set(typed)
    server_errors: list[str] = []
    with requests.Session() as session:
        for result in schema.get_all_operations():
            server_errors += _fuzz(result.ok(), server.url, session)
    assert not server_errors, "\n".join(server_errors[:10])


def _fuzz(operation, url: str, session: requests.Session) -> list[str]:
    """The 5xx answers to the requests generated for one operation."""
    errors: list[str] = []

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def check(case) -> None:
        response = case.call(base_url=url, session=session, timeout=10)
        if response.status_code >= 500:
            errors.append(
                f"{operation.method.upper()} {operation.path}: {response.status_code} "
                f"{response.text[:300]} for {case.body!r}"[:600]
            )

    check()
    return errors
