"""Running the scoring app: one uvicorn process with an asyncio event loop.

One process is deliberate: the models, the micro-batcher and the metrics live in it, and
batching only pays when requests meet in one queue. Scale out with more processes behind a
load balancer, each its own server. uvicorn picks uvloop and httptools when they are
installed and the standard library's loop and h11 otherwise; nothing more is required.
uvicorn also owns SIGINT/SIGTERM: it stops accepting connections, lets requests in flight
finish (up to `graceful_seconds`) and then runs the app's shutdown, which stops the
batchers and model pollers.
"""

from __future__ import annotations

from collections.abc import Sequence

import uvicorn

from shipyard.serving.app import DEFAULT_MAX_BODY_BYTES, create_app
from shipyard.serving.types import ModelSource

__all__ = ["serve"]


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
) -> None:
    """Serve the models `refs` name on `host:port` until SIGINT or SIGTERM.

    The default host is the loopback interface: exposing models to a network is a choice
    to make explicitly (`host="0.0.0.0"`). Models load onto `device` (the CPU by default).
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
    )
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        # One line per request costs throughput and says less than /metrics does.
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=int(graceful_seconds),
    )
    uvicorn.Server(config).run()
