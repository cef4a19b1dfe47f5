"""ASGI middleware of the scoring app: the body size limit and the request metrics.

Both are plain ASGI rather than Starlette's `BaseHTTPMiddleware`, which costs a task and
a stream copy per request; on a 1-row prediction that overhead is a visible share of
the latency.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shipyard.serving.errors import ERROR_TYPE_KEY
from shipyard.serving.metrics import UNKNOWN_MODEL, ServingMetrics

# Where the predict endpoint notes the version that answered, for the metrics.
VERSION_KEY = "shipyard_version"

_PREDICT_PATH = re.compile(r"^/v1/models/([^/]+)/predict/?$")


class BodyLimit:
    """Refuses request bodies over `max_bytes` with a 413, without reading them in full.

    A declared Content-Length over the limit is refused before any byte is read; a body
    without one (chunked) is counted as it streams and refused once it crosses the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _message(self, size: str) -> str:
        return f"request body too large: {size}, the limit is {self.max_bytes} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope["headers"]:
            if key == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                scope.setdefault("state", {})[ERROR_TYPE_KEY] = "BodyTooLarge"
                response = JSONResponse(
                    {"error": self._message(f"{int(value)} bytes")},
                    status_code=413,
                    headers={"connection": "close"},
                )
                await response(scope, receive, send)
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    scope.setdefault("state", {})[ERROR_TYPE_KEY] = "BodyTooLarge"
                    # Raised inside the endpoint's body read, so the app's handler for
                    # HTTP errors turns it into the usual JSON body.
                    raise HTTPException(413, self._message(f"over {received} bytes"))
            return message

        await self.app(scope, limited_receive, send)


class RequestMetrics:
    """Counts and times every prediction request, whatever answered it (endpoint, handler,
    body limit), by model, version and status code."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: ServingMetrics,
        served: Callable[[str], str | None],
    ) -> None:
        """`served(name)` is the version a served model answers with now ("none" before it
        loads) and None for a name that is not served."""
        self.app = app
        self.metrics = metrics
        self.served = served

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _PREDICT_PATH.match(scope["path"]) if scope["type"] == "http" else None
        if match is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def watching_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watching_send)
        finally:
            state = scope.get("state") or {}
            name = match.group(1)
            current = self.served(name)
            model = name if current is not None else UNKNOWN_MODEL
            version = str(state.get(VERSION_KEY) or current or "none")
            self.metrics.observe_request(
                model, version, status, time.perf_counter() - started, state.get(ERROR_TYPE_KEY)
            )
