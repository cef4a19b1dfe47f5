"""The scoring process's heap: what a load leaves alive is frozen out of garbage collection."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from shipyard.serving.app import create_app
from shipyard.serving.heap import freeze_long_lived

from .conftest import MemorySource


class _Node:
    """An object in a reference cycle: only the cyclic collector can free it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()


def test_objects_alive_at_a_load_are_no_longer_scanned_by_collections() -> None:
    kept = [_Node() for _ in range(100)]
    freeze_long_lived()
    assert gc.get_freeze_count() >= len(kept)
    assert not any(node in gc.get_objects() for node in kept[:5])


def test_a_replaced_version_is_collected_at_the_next_load() -> None:
    old = _Node()
    gone = weakref.ref(old)
    freeze_long_lived()  # the first version loads: `old` is frozen
    del old
    gc.collect()
    assert gone() is not None  # frozen objects are never collected...
    freeze_long_lived()  # ...until the next load unfreezes and collects them
    assert gone() is None


def test_an_app_that_owns_its_process_freezes_the_heap_once_its_model_loads(
    source: MemorySource, live_server
) -> None:
    gc.unfreeze()
    live = live_server(create_app(["ranker@production"], source, freeze_heap=True))
    live.wait_ready()
    assert gc.get_freeze_count() > 0
    response = live.client().post(
        "/v1/models/ranker/predict", json={"records": [{"x1": 1.0, "x2": 2.0}]}
    )
    assert response.status_code == 200
