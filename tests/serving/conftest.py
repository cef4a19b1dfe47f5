"""Serving fixtures: real uvicorn servers on 127.0.0.1 and small real scikit-learn models.

`MemorySource` is a model store in memory with the registry's interface (resolve a
reference, load a version). It serves the tests of the serving layers themselves (slots,
batching, errors) where a test needs a model to be slow, broken or to fail to load; the
`registry` fixture is the real registry over a temporary store, used end to end
(`test_registry_serving.py`, `test_batch.py`, `test_cli.py`).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import uvicorn
from sklearn.linear_model import LinearRegression

from shipyard.exceptions import ObjectNotFound
from shipyard.registry import ModelRegistry
from shipyard.registry.signature import ColumnSpec, Signature

FEATURES = ["x1", "x2"]


@dataclass(frozen=True)
class Version:
    name: str
    version: int


@dataclass
class SklearnModel:
    """A loaded version: a fitted estimator that predicts `slope * (x1 + x2)`."""

    name: str
    version: int
    estimator: Any
    signature: Signature | None = field(
        default_factory=lambda: Signature([ColumnSpec(c, "float") for c in FEATURES])
    )
    flavor: str = "sklearn"
    calls: list[int] = field(default_factory=list)
    delay: float = 0.0

    def predict(self, frame: pd.DataFrame) -> list[Any]:
        if self.signature is not None:
            frame = self.signature.coerce(frame)
        self.calls.append(len(frame))
        if self.delay:
            time.sleep(self.delay)
        return [float(v) for v in self.estimator.predict(frame[FEATURES])]


def fit_model(slope: float) -> LinearRegression:
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(200, 2)), columns=FEATURES)
    y = slope * (x["x1"] + x["x2"])
    return LinearRegression().fit(x, y)


class MemorySource:
    """Versions and aliases in memory, with the `resolve`/`load_version` pair serving uses."""

    def __init__(self) -> None:
        self.models: dict[tuple[str, int], SklearnModel] = {}
        self.aliases: dict[tuple[str, str], int] = {}
        self.load_delay = 0.0
        self.fail_loads: set[tuple[str, int]] = set()
        self.lock = threading.Lock()

    def add(self, name: str, version: int, slope: float, **kwargs: Any) -> SklearnModel:
        model = SklearnModel(name, version, fit_model(slope), **kwargs)
        self.models[(name, version)] = model
        return model

    def set_alias(self, name: str, alias: str, version: int) -> None:
        with self.lock:
            self.aliases[(name, alias)] = version

    def resolve(self, ref: str) -> Version:
        with self.lock:
            if "@" in ref:
                name, alias = ref.split("@")
                if (name, alias) not in self.aliases:
                    raise ObjectNotFound(f"no alias {ref}")
                return Version(name, self.aliases[(name, alias)])
            if "/" in ref:
                name, number = ref.split("/")
                return Version(name, int(number))
            return Version(ref, max(v for n, v in self.models if n == ref))

    def load_version(self, version: Version) -> SklearnModel:
        time.sleep(self.load_delay)
        key = (version.name, version.version)
        if key in self.fail_loads:
            raise RuntimeError(f"blob of {key} is corrupt")
        return self.models[key]


@dataclass
class LiveServer:
    """A uvicorn server running in a thread, bound to an ephemeral port on 127.0.0.1."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10, **kwargs)

    def wait_ready(self, timeout: float = 10) -> None:
        wait_for(lambda: httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200, timeout)


def wait_for(condition: Callable[[], bool], timeout: float, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"{what} not met within {timeout}s")


@pytest.fixture
def live_server() -> Iterator[Callable[[Any], LiveServer]]:
    """Starts apps under real uvicorn servers; stops them all at the end of the test."""
    started: list[LiveServer] = []

    def start(app: Any) -> LiveServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        wait_for(lambda: server.started, 10, "server start")
        live = LiveServer(f"http://127.0.0.1:{port}", server, thread)
        started.append(live)
        return live

    yield start
    for live in started:
        live.server.should_exit = True
    for live in started:
        live.thread.join(timeout=10)
        assert not live.thread.is_alive(), "a test server did not stop"


@pytest.fixture
def source() -> MemorySource:
    store = MemorySource()
    store.add("ranker", 1, slope=1.0)
    store.add("ranker", 2, slope=2.0)
    store.set_alias("ranker", "production", 1)
    store.add("scorer", 3, slope=-1.0)
    return store


# -- the real registry ---------------------------------------------------------------------


def example_frame(rows: int = 50) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame({"x1": rng.normal(size=rows), "x2": rng.integers(0, 10, size=rows)})


def fitted_model(slope: float) -> LinearRegression:
    frame = example_frame(200)
    return LinearRegression().fit(frame, slope * (frame["x1"] + frame["x2"]))


@pytest.fixture
def registry(home: Any) -> Iterator[ModelRegistry]:
    """`ranker` v1 (slope 1) and v2 (slope 2), with `production` on v1; `scorer` v1."""
    reg = ModelRegistry.from_config()
    reg.register("ranker", fitted_model(1.0), input_example=example_frame())
    reg.register("ranker", fitted_model(2.0), input_example=example_frame())
    reg.set_alias("ranker", "production", 1)
    reg.register("scorer", fitted_model(-1.0), input_example=example_frame())
    yield reg
    reg.metadata.close()
