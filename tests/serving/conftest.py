"""Serving fixtures: real uvicorn servers on 127.0.0.1 and small real scikit-learn models.

`MemorySource` is a model store in memory with the registry's interface (resolve a
reference, load a version). It serves the tests of the serving layers themselves (slots,
batching, errors) where a test needs a model to be broken or to fail to load; the
`registry` fixture is the real registry over a temporary store, used end to end and by
every test that checks how requests are validated against a model's signature.

Tests never sleep to let a load or a prediction be "in progress": `HeldSource` keeps it in
progress at a `Hold` until the test releases it, `Arrivals` tells when requests reached the
server, and `SteadyLoad` keeps clients busy until they have seen what the test waits for.
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

from ..waiting import wait_for

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


class Hold:
    """A gate that a model load or a predict call waits at until the test releases it.

    It keeps the call in flight for exactly as long as the test needs (while an alias
    moves, while requests queue up), where a sleep could only guess.
    """

    #: A held call gives up after this long, so a test that fails never hangs its server.
    LIMIT_SECONDS = 60

    def __init__(self) -> None:
        self.entered = threading.Event()
        self._released = threading.Event()

    def __call__(self) -> None:
        self.entered.set()
        if not self._released.wait(self.LIMIT_SECONDS):
            raise RuntimeError(f"held for {self.LIMIT_SECONDS}s and never released")

    def wait_entered(self, timeout: float = 30) -> None:
        """Wait until a call is waiting here; fail the test if none comes."""
        assert self.entered.wait(timeout), f"no call reached the hold within {timeout}s"

    def release(self) -> None:
        self._released.set()


class HeldModel:
    """A loaded model whose predict calls first wait at a `Hold`."""

    def __init__(self, model: Any, hold: Hold) -> None:
        self._model = model
        self._hold = hold

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def predict(self, frame: pd.DataFrame) -> list[Any]:
        self._hold()
        return self._model.predict(frame)


@dataclass
class HeldSource:
    """Any model source (the real registry, `MemorySource`) whose loads wait at `loads` and
    whose loaded models' predict calls wait at `predicts`, when those are set."""

    source: Any
    loads: Hold | None = None
    predicts: Hold | None = None

    def resolve(self, ref: str) -> Any:
        return self.source.resolve(ref)

    def load_version(self, version: Any) -> Any:
        if self.loads is not None:
            self.loads()
        model = self.source.load_version(version)
        return model if self.predicts is None else HeldModel(model, self.predicts)


class Arrivals:
    """An ASGI wrapper counting the requests to `path` whose bodies the app has read in full.

    From then on a request is the server's to queue, so a test that waits for its requests
    to arrive knows they are in line, whatever the load on the machine.
    """

    def __init__(self, app: Any, path: str) -> None:
        self.app = app
        self.path = path
        self.count = 0
        self._changed = threading.Condition()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return

        async def counted() -> Any:
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                with self._changed:
                    self.count += 1
                    self._changed.notify_all()
            return message

        await self.app(scope, counted, send)

    def wait_for(self, count: int, timeout: float = 30) -> None:
        """Wait until `count` requests have arrived; fail the test if they do not."""
        with self._changed:
            arrived = self._changed.wait_for(lambda: self.count >= count, timeout)
        assert arrived, f"{self.count} of {count} requests reached {self.path} in {timeout}s"


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]

    @property
    def version(self) -> int | None:
        return self.body.get("version")


class SteadyLoad:
    """`clients` threads posting to `path`, one request after another, until the load stops.

    Every answer is kept, in order, per client (`answers[client]`). `wait_until` blocks
    until the answers so far satisfy a condition, so a test waits for what it needs to see
    (every client answered by the new version) instead of sleeping and hoping.
    """

    def __init__(
        self, url: str, path: str, clients: int, body: Callable[[int, int], dict[str, Any]]
    ) -> None:
        self.answers: list[list[Answer]] = [[] for _ in range(clients)]
        self._url, self._path, self._body = url, path, body
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._errors: list[BaseException] = []
        self._threads = [
            threading.Thread(target=self._client, args=(n,), daemon=True) for n in range(clients)
        ]

    def __enter__(self) -> SteadyLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        assert not any(thread.is_alive() for thread in self._threads), "a client did not stop"
        if self._errors:
            raise self._errors[0]

    def wait_until(
        self, condition: Callable[[list[list[Answer]]], bool], what: str, timeout: float = 30
    ) -> None:
        """Wait until `condition(answers)` holds; fail the test if it does not in time."""
        with self._changed:
            met = self._changed.wait_for(
                lambda: bool(self._errors) or condition(self.answers), timeout
            )
            if self._errors:
                raise self._errors[0]
        assert met, f"{what}: not seen within {timeout}s"

    def _client(self, number: int) -> None:
        try:
            with httpx.Client(base_url=self._url, timeout=10) as client:
                sent = 0
                while not self._stop.is_set():
                    response = client.post(self._path, json=self._body(number, sent))
                    sent += 1
                    with self._changed:
                        self.answers[number].append(Answer(response.status_code, response.json()))
                        self._changed.notify_all()
        except BaseException as exc:
            with self._changed:
                self._errors.append(exc)
                self._changed.notify_all()


@pytest.fixture
def live_server() -> Iterator[Callable[[Any], LiveServer]]:
    """Starts apps under real uvicorn servers; stops them all at the end of the test."""
    started: list[LiveServer] = []

    def start(app: Any, config: uvicorn.Config | None = None) -> LiveServer:
        """Serve `app`, under `config` when given (its host and port are ignored)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        if config is None:
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
