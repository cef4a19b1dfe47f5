"""Specification of the registry's SQL store: numbering, immutability and atomic alias moves."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from shipyard.exceptions import ObjectNotFound, ShipyardError
from shipyard.metadata import MetadataBackend, ModelRegistryStore
from shipyard.metadata.registry_records import LineageRecord, ModelVersionRecord

from ..waiting import Span, assert_inside_at_once


def add_version(
    registry: ModelRegistryStore, name: str = "ranker", **overrides: Any
) -> ModelVersionRecord:
    values: dict[str, Any] = {
        "user": "alice",
        "flavor": "sklearn",
        "payload_sha256": "ab" * 32,
        "payload_size": 10,
        "signature": None,
        "metrics": {},
        "description": "",
        "tags": {},
        "lineage": None,
        **overrides,
    }
    return registry.create_version(name, **values)


@pytest.fixture
def registry(store: MetadataBackend) -> ModelRegistryStore:
    return store.models


def test_versions_count_from_one_per_model(registry: ModelRegistryStore) -> None:
    assert [add_version(registry).version for _ in range(3)] == [1, 2, 3]
    assert add_version(registry, "other").version == 1
    assert registry.get_model("ranker").latest_version == 3


def test_a_version_reads_back_exactly_as_written(registry: ModelRegistryStore) -> None:
    lineage = LineageRecord(
        flow_name="TrainFlow",
        run_id="12",
        step_name="train",
        task_id="3",
        artifact_name="model",
        artifact_sha256="cd" * 32,
        parameters={"alpha": 0.5, "layers": [1, 2]},
        code_hash="ef" * 32,
    )
    written = add_version(
        registry,
        signature={"inputs": [{"name": "x", "type": "float"}], "output": "float"},
        metrics={"auc": 0.9},
        tags={"team": "ml"},
        lineage=lineage,
    )

    assert registry.get_version("ranker", 1) == written
    assert registry.versions_of_run("TrainFlow", "12") == [written]
    assert registry.versions_of_run("TrainFlow", "13") == []


def test_the_store_offers_no_way_to_change_payload_or_lineage(registry: ModelRegistryStore) -> None:
    public = {name for name in dir(registry) if not name.startswith("_")}
    writers = {name for name in public if name.startswith(("set_", "create_", "delete_", "roll"))}
    assert writers == {
        "create_version",
        "set_model_description",
        "set_model_tags",
        "set_version_description",
        "set_version_tags",
        "set_alias",
        "delete_alias",
        "rollback_alias",
    }


def test_alias_moves_and_their_events_commit_together(registry: ModelRegistryStore) -> None:
    add_version(registry)
    add_version(registry)

    assert registry.set_alias("ranker", "prod", 1, "alice") is None
    assert registry.set_alias("ranker", "prod", 2, "bob") == 1
    with pytest.raises(ObjectNotFound):
        registry.set_alias("ranker", "prod", 3, "carol")

    assert registry.alias_version("ranker", "prod") == 2
    events = registry.alias_history("ranker", "prod")
    assert [(e.from_version, e.to_version, e.user) for e in events] == [
        (None, 1, "alice"),
        (1, 2, "bob"),
    ]


def test_rollback_needs_an_earlier_version(registry: ModelRegistryStore) -> None:
    add_version(registry)
    registry.set_alias("ranker", "prod", 1, "alice")

    with pytest.raises(ShipyardError, match="no earlier version"):
        registry.rollback_alias("ranker", "prod", "alice")


def test_model_payloads_are_referenced_for_garbage_collection(
    registry: ModelRegistryStore, store: MetadataBackend
) -> None:
    add_version(registry, payload_sha256="12" * 32)

    assert "12" * 32 in store.referenced_hashes()
    assert registry.payload_hashes() == {"12" * 32}


def test_concurrent_writers_in_threads_never_share_a_number(registry: ModelRegistryStore) -> None:
    start = threading.Barrier(4, timeout=30)

    def register() -> tuple[list[int], Span]:
        start.wait()  # all four begin together, however long each thread took to start
        began = time.time()
        numbers = [add_version(registry).version for _ in range(5)]
        return numbers, Span(began, time.time())

    with ThreadPoolExecutor(4) as pool:
        outcomes = [future.result() for future in [pool.submit(register) for _ in range(4)]]

    assert_inside_at_once([span for _, span in outcomes], "add_version")
    got = [number for numbers, _ in outcomes for number in numbers]
    assert sorted(got) == list(range(1, 21))
