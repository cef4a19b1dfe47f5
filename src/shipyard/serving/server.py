"""Running the scoring app: one uvicorn process with an asyncio event loop.

One process is deliberate: the models, the micro-batcher and the metrics live in it, and
batching only pays when requests meet in one queue. Scale out with more processes behind a
load balancer, each its own server. uvicorn picks uvloop and httptools when they are
installed and the standard library's loop and h11 otherwise; nothing more is required.
uvicorn also owns SIGINT/SIGTERM: it stops accepting connections, lets requests in flight
finish (up to `graceful_seconds`) and then runs the app's shutdown, which stops the
batchers and model pollers. Idle connections are closed after `keep_alive_seconds`, and a
request not read in full within `read_timeout_seconds` has its connection closed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import uvicorn

from shipyard.serving.app import DEFAULT_MAX_BODY_BYTES, create_app
from shipyard.serving.experiments import ExperimentRouting
from shipyard.serving.timeouts import read_timeout_protocol
from shipyard.serving.types import ModelSource
from shipyard.serving.vector_log import DEFAULT_RATE

__all__ = ["serve", "server_config"]

DEFAULT_KEEP_ALIVE_SECONDS = 5
DEFAULT_READ_TIMEOUT_SECONDS = 15.0


def server_config(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    log_level: str = "info",
    graceful_seconds: float = 30.0,
    keep_alive_seconds: int = DEFAULT_KEEP_ALIVE_SECONDS,
    read_timeout_seconds: float = DEFAULT_READ_TIMEOUT_SECONDS,
) -> uvicorn.Config:
    """The uvicorn configuration `serve` runs `app` under."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        # One line per request costs throughput and says less than /metrics does.
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=int(graceful_seconds),
        timeout_keep_alive=keep_alive_seconds,
        http=read_timeout_protocol(AutoHTTPProtocol, read_timeout_seconds),
    )


def serve(
    refs: Sequence[str],
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    max_batch: int = 64,
    max_wait_ms: float = 2.0,
    poll_seconds: float = 2.0,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    registry: ModelSource | None = None,
    log_level: str = "info",
    graceful_seconds: float = 30.0,
    device: str | None = None,
    wait_for_models: bool = False,
    keep_alive_seconds: int = DEFAULT_KEEP_ALIVE_SECONDS,
    read_timeout_seconds: float = DEFAULT_READ_TIMEOUT_SECONDS,
    on_start: Callable[[], None] | None = None,
    experiments: ExperimentRouting | None = None,
    log_vectors: float = DEFAULT_RATE,
    online_store: str | None = None,
) -> None:
    """Serve the models `refs` name on `host:port` until SIGINT or SIGTERM.

    The default host is the loopback interface: exposing models to a network is a choice
    to make explicitly (`host="0.0.0.0"`). Models load onto `device` (the CPU by default).
    A reference that names no model fails here, before the server starts, unless
    `wait_for_models` says to answer 503 until it exists. `on_start` is called once the
    references have been checked, just before the server binds its port. `experiments`
    serves the running experiments too (`POST /v1/experiments/{name}/predict`). `log_vectors`
    is the share of served rows logged for drift, `online_store` the URL of the online
    store entities are scored from (see `create_app`).
    """
    app = create_app(
        refs,
        registry,
        max_batch=max_batch,
        max_wait_ms=max_wait_ms,
        poll_seconds=poll_seconds,
        max_body_bytes=max_body_bytes,
        device=device,
        freeze_heap=True,
        wait_for_models=wait_for_models,
        experiments=experiments,
        log_vectors=log_vectors,
        online_store=online_store,
    )
    config = server_config(
        app,
        host,
        port,
        log_level=log_level,
        graceful_seconds=graceful_seconds,
        keep_alive_seconds=keep_alive_seconds,
        read_timeout_seconds=read_timeout_seconds,
    )
    if on_start is not None:
        on_start()
    uvicorn.Server(config).run()
