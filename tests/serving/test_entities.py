"""Scoring by entity id: `{"entities": [{"member_id": 42}]}` is scored on the entity's vector
from the online store, encoded with the fitted feature set of the served version; over HTTP,
in Python (`predict_entities`) and in batch (`models score --entities`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from shipyard import facts
from shipyard.cli.main import cli
from shipyard.experiments import api as experiments
from shipyard.experiments.exposures import ExposureLog
from shipyard.features.online import open_online_store
from shipyard.registry import ModelRegistry, models
from shipyard.serving import create_app
from shipyard.serving.experiments import ExperimentRouting

from .churn import CHURN_FEATURES, Churn, register_churn
from .conftest import Arrivals, HeldSource, Hold, LiveServer

UNKNOWN = 10_000  # an id no fact names
IDS = [0, 5, 39, UNKNOWN]  # member 39 has no plays: empty values, like the unknown one


@pytest.fixture
def churn(registry: ModelRegistry) -> Churn:
    return register_churn(registry)


@pytest.fixture(params=["sqlite", "redis"])
def online_url(request: pytest.FixtureRequest, churn: Churn) -> Iterator[str]:
    """The online store `churn`'s feature set is materialized into: the default SQLite file
    beside the metadata, or a real Redis."""
    url = None
    if request.param == "redis":
        import redis

        url = request.getfixturevalue("redis_server")
        redis.Redis.from_url(url).flushdb()
    store = open_online_store(url)
    CHURN_FEATURES.materialize(store)
    yield store.url
    store.close()


def offline_predictions(registry: ModelRegistry, churn: Churn, store_url: str) -> list[float]:
    """What the model predicts for IDS from the training frame as of the materialization."""
    store = open_online_store(store_url)
    record = store.get_version(CHURN_FEATURES.version)
    store.close()
    assert record is not None and record.watermark is not None
    labels = pd.DataFrame({"member_id": IDS, "ts": record.watermark})
    frame = CHURN_FEATURES.training_frame(labels, timestamp="ts", as_of=record.watermark)
    return registry.load("churn").predict(churn.encoded(frame))


def test_entities_are_scored_on_their_online_vectors_encoded_as_at_training(
    registry: ModelRegistry, churn: Churn, online_url: str, live_server: Callable[..., LiveServer]
) -> None:
    live = live_server(create_app(["churn"], registry, online_store=online_url))
    live.wait_ready()
    expected = offline_predictions(registry, churn, online_url)

    with live.client() as client:
        answer = client.post(
            "/v1/models/churn/predict", json={"entities": [{"member_id": i} for i in IDS]}
        )
        rows = client.post(
            "/v1/models/churn/predict",
            json={"records": churn.encoded(churn.frame.head(3)).to_dict("records")},
        )

    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == pytest.approx(expected)
    # An unknown id is scored on the empty values, exactly as a member without facts.
    assert answer.json()["predictions"][3] == answer.json()["predictions"][2]
    assert rows.status_code == 200, rows.text  # raw feature rows keep working
    store = open_online_store(online_url)
    in_python = registry.load("churn").predict_entities(IDS, store)
    store.close()
    assert in_python == pytest.approx(expected)


def test_a_feature_set_version_the_store_does_not_hold_is_a_409_naming_what_to_materialize(
    registry: ModelRegistry, churn: Churn, live_server: Callable[..., LiveServer]
) -> None:
    live = live_server(create_app(["churn"], registry))
    live.wait_ready()
    body = {"entities": [{"member_id": 1}]}

    with live.client() as client:
        no_store = client.post("/v1/models/churn/predict", json=body)
        open_online_store().close()  # a store now exists, without this version
        not_there = client.post("/v1/models/churn/predict", json=body)
        CHURN_FEATURES.materialize(open_online_store())
        materialized = client.post("/v1/models/churn/predict", json=body)

    assert no_store.status_code == 409, no_store.text
    assert "shipyard features materialize" in no_store.json()["error"]
    assert not_there.status_code == 409, not_there.text
    assert "churn_features" in not_there.json()["error"]
    assert "materialize" in not_there.json()["error"]
    assert materialized.status_code == 200, materialized.text


BAD_ENTITIES = [
    ([{"user_id": 1}], "{'member_id': ...}; got the keys ['user_id']"),
    ([{"member_id": 1.5}], "an entity id is an integer or a string, not 1.5"),
    ([{"member_id": "abc"}], "entity id 'abc' is not an integer"),
    ([{"member_id": True}], "not True"),
    ([{"member_id": 1, "plan": "x"}], "entity 0 must name exactly one id"),
    ([], "'entities' holds no entities"),
]


def test_bad_entities_are_a_422_saying_what_is_wrong(
    registry: ModelRegistry, churn: Churn, live_server: Callable[..., LiveServer]
) -> None:
    CHURN_FEATURES.materialize(open_online_store())
    live = live_server(create_app(["churn"], registry))
    live.wait_ready()

    with live.client() as client:
        answers = [
            client.post("/v1/models/churn/predict", json={"entities": entities})
            for entities, _ in BAD_ENTITIES
        ]

    for answer, (entities, message) in zip(answers, BAD_ENTITIES, strict=True):
        assert answer.status_code == 422, (entities, answer.text)
        assert message in answer.json()["error"], entities


def test_a_model_trained_without_a_feature_set_refuses_entities_with_a_422(
    registry: ModelRegistry, live_server: Callable[..., LiveServer]
) -> None:
    live = live_server(create_app(["ranker"], registry))
    live.wait_ready()

    with live.client() as client:
        answer = client.post("/v1/models/ranker/predict", json={"entities": [{"id": 1}]})

    assert answer.status_code == 422
    assert "not trained on a feature set" in answer.json()["error"]


def test_concurrent_entity_requests_share_one_online_lookup(
    registry: ModelRegistry,
    churn: Churn,
    redis_server: str,
    live_server: Callable[..., LiveServer],
) -> None:
    import redis

    client = redis.Redis.from_url(redis_server)
    client.flushdb()
    CHURN_FEATURES.materialize(open_online_store(redis_server))
    predicts = Hold()
    app = create_app(["churn"], HeldSource(registry, predicts=predicts), online_store=redis_server)
    arrivals = Arrivals(app, "/v1/models/churn/predict")
    live = live_server(arrivals)
    live.wait_ready()
    client.config_resetstat()

    def score(member: int) -> int:
        with live.client() as http:
            body = {"entities": [{"member_id": member}]}
            return http.post("/v1/models/churn/predict", json=body).status_code

    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(score, 0)
        predicts.wait_entered()  # the first group holds the model; the others queue up
        rest = [pool.submit(score, member) for member in range(1, 8)]
        arrivals.wait_for(8)
        predicts.release()
        assert [first.result(), *(r.result() for r in rest)] == [200] * 8

    stats = client.info("commandstats")
    reads = sum(
        stats.get(f"cmdstat_{command}", {}).get("calls", 0) for command in ("hget", "hmget")
    )
    assert reads == 2  # the first request's lookup, then one for the seven that queued


def test_batch_scoring_an_entities_file_carries_its_columns_through(
    registry: ModelRegistry, churn: Churn, tmp_path: Path
) -> None:
    registry.set_alias("churn", "production", churn.version.version)
    CHURN_FEATURES.materialize(open_online_store())
    expected = models.load("churn@production").predict_entities(IDS)  # the configured store
    ids = tmp_path / "ids.parquet"
    pd.DataFrame({"member_id": IDS, "campaign": ["a", "b", "c", "d"]}).to_parquet(ids)
    scored = tmp_path / "scored.parquet"

    result = CliRunner().invoke(
        cli, ["models", "score", "churn", "--entities", str(ids), "--output", str(scored)]
    )

    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(scored)
    assert list(frame.columns) == ["member_id", "campaign", "prediction"]
    assert frame["prediction"].tolist() == pytest.approx(expected)
    wrong = tmp_path / "wrong.parquet"
    pd.DataFrame({"user_id": IDS}).to_parquet(wrong)
    refused = CliRunner().invoke(
        cli, ["models", "score", "churn", "--entities", str(wrong), "--output", str(scored)]
    )
    assert refused.exit_code != 0
    assert "no 'member_id' column" in refused.output


def test_a_vector_materialized_again_is_scored_on_its_new_values(
    registry: ModelRegistry, churn: Churn, live_server: Callable[..., LiveServer]
) -> None:
    CHURN_FEATURES.materialize(open_online_store())
    live = live_server(create_app(["churn"], registry))
    live.wait_ready()
    body = {"entities": [{"member_id": 39}]}  # no plays yet
    model = registry.load("churn")
    expected_before = model.predict_entities([39])

    with live.client() as client:
        before = client.post("/v1/models/churn/predict", json=body).json()["predictions"]
        facts.ingest(
            "plays", [{"member_id": 39, "ts": datetime.now(UTC), "minutes": 500.0, "genre": "film"}]
        )
        CHURN_FEATURES.materialize(open_online_store())
        after = client.post("/v1/models/churn/predict", json=body).json()["predictions"]

    assert before == expected_before
    assert after == model.predict_entities([39]) != before


def test_an_experiment_over_feature_set_models_scores_its_units_by_entity_id(
    registry: ModelRegistry, churn: Churn, live_server: Callable[..., LiveServer]
) -> None:
    store = open_online_store()
    CHURN_FEATURES.materialize(store)
    experiments.create("churn-v2", {"control": "churn/1", "treatment": "churn/1"})
    experiments.start("churn-v2")
    routing = ExperimentRouting(
        registry.metadata.experiments,
        ExposureLog(facts.store(create=True), batch_size=1_000_000, interval=0.2),
        poll_seconds=0.1,
    )
    live = live_server(create_app([], registry, experiments=routing, online_store=store.url))
    live.wait_ready()
    expected = offline_predictions(registry, churn, store.url)
    store.close()

    with live.client() as client:
        answers = [
            client.post(
                "/v1/experiments/churn-v2/predict",
                json={"unit": member, "entities": [{"member_id": member}]},
            )
            for member in IDS
        ]

    assert [a.status_code for a in answers] == [200] * len(IDS), answers[0].text
    assert [a.json()["predictions"][0] for a in answers] == pytest.approx(expected)
    assert {a.json()["cell"] for a in answers} <= {"control", "treatment"}
