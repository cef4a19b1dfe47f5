"""The scoring service logs a sample of the vectors it serves as facts (one table per model
version), written in batches off the request path, everything flushed at a clean shutdown."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from shipyard import facts
from shipyard.cli.main import cli
from shipyard.features.served import SERVED_AT, SERVED_ID
from shipyard.registry import ModelRegistry
from shipyard.serving import create_app

from .churn import Churn, register_churn
from .conftest import LiveServer, example_frame


@pytest.fixture
def churn(registry: ModelRegistry) -> Churn:
    return register_churn(registry)


def serve_and_stop(
    live_server: Callable[..., LiveServer],
    registry: ModelRegistry,
    rows: pd.DataFrame,
    model: str = "churn",
    **options: Any,
) -> None:
    """Serve `model`, score `rows` in requests of 10, then stop the server cleanly."""
    live = live_server(create_app([model], registry, **options))
    live.wait_ready()
    with live.client() as client:
        for start in range(0, len(rows), 10):
            records = rows.iloc[start : start + 10].to_dict("records")
            response = client.post(f"/v1/models/{model}/predict", json={"records": records})
            assert response.status_code == 200, response.text
    live.server.should_exit = True
    live.thread.join(timeout=30)
    assert not live.thread.is_alive()


def test_every_served_vector_is_logged_at_rate_one_and_a_clean_stop_flushes_them(
    registry: ModelRegistry, churn: Churn, live_server: Callable[..., LiveServer]
) -> None:
    served = churn.encoded(churn.frame)

    # An interval longer than the test: only the shutdown can have written them.
    serve_and_stop(live_server, registry, served, log_vectors=1.0, log_interval=3600.0)

    logged = facts.read("served.churn.1")
    assert len(logged) == len(served)
    assert set(logged.columns) == {SERVED_ID, SERVED_AT, "recorded_at", *served.columns}
    by_value = logged.sort_values("minutes").reset_index(drop=True)
    expected = served.sort_values("minutes").reset_index(drop=True)
    pd.testing.assert_series_equal(by_value["minutes"], expected["minutes"].astype(float))


def test_a_rate_keeps_about_that_share(
    registry: ModelRegistry, churn: Churn, live_server: Callable[..., LiveServer]
) -> None:
    served = pd.concat([churn.encoded(churn.frame)] * 10, ignore_index=True)  # 400 rows

    serve_and_stop(live_server, registry, served, log_vectors=0.25)

    assert 40 <= len(facts.read("served.churn.1")) <= 180  # 100 expected; 6 sd either side


def test_rate_zero_and_models_without_a_snapshot_log_nothing(
    registry: ModelRegistry, churn: Churn, live_server: Callable[..., LiveServer]
) -> None:
    serve_and_stop(live_server, registry, churn.encoded(churn.frame), log_vectors=0.0)
    serve_and_stop(live_server, registry, example_frame(20), "ranker", log_vectors=1.0)

    assert not [table for table in facts.list_tables() if table.name.startswith("served.")]


def test_drift_flags_the_shifted_column_of_the_served_vectors(
    registry: ModelRegistry, churn: Churn, live_server: Callable[..., LiveServer]
) -> None:
    served = pd.concat([churn.encoded(churn.frame)] * 25, ignore_index=True)  # 1,000 rows
    served["minutes"] = served["minutes"] + 1.5  # a shift of 1.5 training standard deviations
    serve_and_stop(live_server, registry, served, log_vectors=1.0)

    drift = ["features", "drift", "churn_features", "--model", "churn/1"]
    result = CliRunner().invoke(cli, [*drift, "--since", "1d"], env={"COLUMNS": "200"})

    assert result.exit_code == 1, result.output
    assert "1 of" in result.output and "columns drifted: minutes" in result.output
    as_json = CliRunner().invoke(cli, [*drift, "--json"])
    report = json.loads(as_json.output)
    assert report["flagged"] == ["minutes"] and report["served"] == 1_000
    other = CliRunner().invoke(cli, ["features", "drift", "ranker_features", "--model", "churn/1"])
    assert other.exit_code == 2
    assert "churn/1 was trained with churn_features, not feature set 'ranker_features'" in (
        other.output
    )
