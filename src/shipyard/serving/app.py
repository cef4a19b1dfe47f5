"""The scoring app: served models behind `POST /v1/models/{name}/predict` and friends.

`create_app` wires the pieces: one `ModelSlot` per served reference (follows alias moves),
one `MicroBatcher` per slot (groups concurrent requests), the error handlers (every bad
input is a 4xx JSON error), the body limit and the metrics. Models load in the background
once the app starts; `/readyz` says when all of them have.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from shipyard.exceptions import ObjectNotFound
from shipyard.serving.batching import MicroBatcher, Rows
from shipyard.serving.entities import OnlineLookup
from shipyard.serving.errors import ModelNotServed, install_error_handlers
from shipyard.serving.experiments import ExperimentRouter, ExperimentRouting, add_experiment_routes
from shipyard.serving.heap import freeze_long_lived
from shipyard.serving.metrics import ServingMetrics
from shipyard.serving.middleware import VERSION_KEY, BodyLimit, RequestMetrics
from shipyard.serving.openapi import typed_openapi
from shipyard.serving.responses import prediction_response
from shipyard.serving.schemas import (
    ErrorResponse,
    ModelInfo,
    ModelList,
    PredictRequest,
    PredictResponse,
    Readiness,
)
from shipyard.serving.slots import ModelSlot
from shipyard.serving.types import ModelSource, ServableModel
from shipyard.serving.vector_log import DEFAULT_INTERVAL, DEFAULT_RATE, VectorLog

logger = logging.getLogger("shipyard.serving")

DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in {
        400: "The body is not valid JSON.",
        404: "No model of that name is served here.",
        409: "Entities were sent, but the online store holds no vectors of the model's "
        "feature set version: materialize it (the message says which).",
        413: "The body is larger than the server accepts.",
        422: "Wrong shape, columns, types or values, no rows, or rows the model's own checks "
        "refused; the message names what is wrong.",
        500: "The server, or the model on valid input, failed.",
        503: "The model has not loaded yet, or the online store cannot be reached.",
    }.items()
}


class _Served:
    """The slots and batchers of one app, by model name."""

    def __init__(self, slots: list[ModelSlot], batchers: dict[str, MicroBatcher]) -> None:
        self.slots = {slot.name: slot for slot in slots}
        self.batchers = batchers

    def slot(self, name: str) -> ModelSlot:
        slot = self.slots.get(name)
        if slot is None:
            served = ", ".join(sorted(self.slots)) or "none"
            raise ModelNotServed(f"model {name!r} is not served here (served: {served})")
        return slot

    def version_label(self, name: str) -> str | None:
        slot = self.slots.get(name)
        if slot is None:
            return None
        model = slot.model
        return "none" if model is None else str(model.version)


def create_app(
    refs: Sequence[str],
    registry: ModelSource | None = None,
    *,
    max_batch: int = 64,
    max_wait_ms: float = 2.0,
    poll_seconds: float = 2.0,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    device: str | None = None,
    freeze_heap: bool = False,
    wait_for_models: bool = True,
    experiments: ExperimentRouting | None = None,
    log_vectors: float = DEFAULT_RATE,
    log_interval: float = DEFAULT_INTERVAL,
    online_store: str | None = None,
) -> FastAPI:
    """An ASGI app serving the models `refs` name (`ranker@production`, `ranker/3`, ...).

    `registry` resolves and loads them (the configured `ModelRegistry` by default), onto
    `device` when one is given (the CPU otherwise). Each name may be served once: two
    references to one model would make `/v1/models/{name}/predict` ambiguous. `freeze_heap`
    exempts what is alive after each load from garbage collection (see `heap.py`): for a
    process that is the server, not for an app embedded in a process whose heap belongs to
    someone else. With `wait_for_models=False` a reference that names no model (yet) is
    refused here, with `ObjectNotFound`, instead of answering 503 until it exists.
    `experiments` also serves the running experiments of its store (`serving.experiments`).
    `log_vectors` is the share of served rows logged as facts for drift, for the versions
    registered with a training snapshot (see `vector_log.py`; 0 logs nothing), written
    every `log_interval` seconds and when the app stops. A version trained on a feature set
    can also be scored by entity id, from the online store `online_store` names (a URL;
    default: the configured one), opened at the first such request.
    """
    if not refs and experiments is None:
        raise ValueError("give at least one model reference to serve, or serve experiments")
    close_source: Callable[[], None] | None = None
    if registry is None:
        from shipyard.registry.registry import ModelRegistry

        # Only a server told to wait for models may start before any store exists.
        opened = ModelRegistry.from_config(create=wait_for_models)
        registry, close_source = opened, opened.metadata.close
    source = registry
    loader = source.load_version if device is None else partial(source.load_version, device=device)
    vectors = VectorLog(log_vectors, interval=log_interval)
    lookup = OnlineLookup(online_store)

    def load(version: Any) -> Any:
        return vectors.prepare(loader(version))

    metrics = ServingMetrics()

    def on_load(slot: ModelSlot, loaded: bool) -> None:
        metrics.model_loads.labels(slot.name, "loaded" if loaded else "failed").inc()
        model = slot.model
        metrics.model_version.labels(slot.name).set(0 if model is None else model.version)
        if loaded and freeze_heap:
            freeze_long_lived()

    slots = [
        ModelSlot(
            ref,
            source.resolve,
            load,
            poll_seconds=poll_seconds,
            on_load=on_load,
        )
        for ref in refs
    ]
    try:
        _check_named_once(slots)
        if not wait_for_models:
            _check_resolvable(source, refs)
    except Exception:
        if close_source is not None:
            close_source()
        raise

    def observe(model: ServableModel, rows: int, requests: int) -> None:
        metrics.observe_batch(model.name, model.version, rows, requests)

    def batcher(model: Callable[[], ServableModel | None]) -> MicroBatcher:
        """One model's request grouping: rows as sent, or entities looked up in the online
        store; a sample of what it scores is logged for drift."""
        return MicroBatcher(
            model,
            max_batch=max_batch,
            max_wait_ms=max_wait_ms,
            observe=observe,
            entities=lookup,
            served=vectors.offer,
        )

    batchers = {slot.name: batcher(lambda slot=slot: slot.model) for slot in slots}  # type: ignore[misc]
    served = _Served(slots, batchers)
    router = None
    if experiments is not None:
        router = ExperimentRouter(
            experiments, lambda name, version: load(source.resolve(f"{name}/{version}")), batcher
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Threads live as long as one run of the app. One thread for the model store: it
        # need not be thread-safe, and loads are rare. One prediction thread per model: a
        # batcher keeps one group in flight, and a slow model must not hold up the others.
        store_executor = ThreadPoolExecutor(1, thread_name_prefix="shipyard-store")
        threads = len(slots) + (2 if router is not None else 0)  # experiments share two
        predict_executor = ThreadPoolExecutor(threads, thread_name_prefix="shipyard-predict")
        for slot in slots:
            metrics.model_version.labels(slot.name).set(0)
            slot.start(store_executor)
        for batcher in batchers.values():
            batcher.start(predict_executor)
        if router is not None:
            router.start(store_executor, predict_executor)
        try:
            yield
        finally:
            if router is not None:
                await router.stop()  # flushes the exposures
            for batcher in batchers.values():
                await batcher.stop()
            for slot in slots:
                await slot.stop()
            # A load still running in the store thread is abandoned, not waited for: a
            # shutdown must not hang on a slow download.
            store_executor.shutdown(wait=False, cancel_futures=True)
            predict_executor.shutdown(wait=True, cancel_futures=True)
            vectors.close()  # after the last prediction: everything it logged is written
            lookup.close()
            if close_source is not None:
                close_source()

    app = FastAPI(
        title="Shipyard scoring service",
        summary="Predictions from registered Shipyard models.",
        version="1",
        lifespan=lifespan,
    )
    app.state.served = served
    app.state.metrics = metrics
    app.openapi = typed_openapi(  # type: ignore[method-assign]
        app, lambda: {name: slot.model for name, slot in served.slots.items()}
    )
    install_error_handlers(app)
    _add_routes(app, served, metrics, router)
    if router is not None:
        add_experiment_routes(app, router, _ERRORS)
    _predict_routes_first(app)
    # Added last = outermost: the metrics see the 413s the body limit sends.
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(RequestMetrics, metrics=metrics, served=served.version_label)
    return app


def _predict_routes_first(app: FastAPI) -> None:
    """Move the scoring endpoints to the front of the routing table.

    Starlette tries the routes in order, about 2 µs each; FastAPI's documentation routes come
    first, and the experiment routes came after every model route, so a scoring request paid
    for four to ten failed matches (measured: the experiment route 11 µs more than the model
    route per request). The paths never overlap, so the order changes nothing else but
    the order of the paths in `/openapi.json`.
    """
    app.router.routes.sort(key=lambda route: not getattr(route, "path", "").endswith("/predict"))


def _check_named_once(slots: Sequence[ModelSlot]) -> None:
    names = [slot.name for slot in slots]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(f"model {', '.join(twice)} is named by more than one reference")


def _check_resolvable(source: ModelSource, refs: Sequence[str]) -> None:
    """Resolve every reference once, so a typo fails now rather than as 503s forever."""
    for ref in refs:
        try:
            source.resolve(ref)
        except ObjectNotFound as exc:
            raise ObjectNotFound(
                f"cannot serve {ref}: {exc}. Register the model (or set the alias) first, or "
                "start the server with --wait-for-models (wait_for_models=True) to wait for it"
            ) from exc


def _model_info(slot: ModelSlot) -> ModelInfo:
    model = slot.model
    signature = None if model is None or model.signature is None else model.signature.to_json()
    return ModelInfo(
        name=slot.name,
        ref=slot.ref,
        version=None if model is None else model.version,
        flavor=None if model is None else model.flavor,
        signature=signature,
        ready=model is not None,
        last_error=slot.last_error,
    )


def _add_routes(
    app: FastAPI, served: _Served, metrics: ServingMetrics, router: ExperimentRouter | None
) -> None:
    @app.post(
        "/v1/models/{name}/predict",
        response_model=PredictResponse,
        responses=_ERRORS,
        tags=["predict"],
    )
    async def predict(name: str, body: PredictRequest, request: Request) -> Response:
        """Score rows with the model `name`, or the entities a model trained on a feature
        set names (their vectors from the online store); concurrent requests share one
        model call and one lookup."""
        served.slot(name)
        rows = Rows(records=body.records, columns=body.columns, entities=body.entities)
        scored = await served.batchers[name].submit(rows)
        request.scope.setdefault("state", {})[VERSION_KEY] = scored.version
        content = {"model": name, "version": scored.version, "predictions": scored.predictions}
        return prediction_response(content)

    @app.get("/v1/models", response_model=ModelList, tags=["models"])
    async def list_models() -> ModelList:
        """Every served model, the reference it follows and the version serving now."""
        return ModelList(models=[_model_info(slot) for slot in served.slots.values()])

    @app.get(
        "/v1/models/{name}",
        response_model=ModelInfo,
        responses={404: _ERRORS[404]},
        tags=["models"],
    )
    async def show_model(name: str) -> ModelInfo:
        """One served model: its reference, version, flavor and signature."""
        return _model_info(served.slot(name))

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is up and its event loop answers (a liveness probe)."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "Some model has not loaded."}},
        tags=["health"],
    )
    async def readyz() -> JSONResponse:
        """200 once every served model (and experiment) has loaded, 503 before (a readiness
        probe)."""
        versions = {
            name: None if slot.model is None else slot.model.version
            for name, slot in served.slots.items()
        }
        ready = all(version is not None for version in versions.values())
        ready = ready and (router is None or router.ready)
        body = Readiness(ready=ready, models=versions).model_dump()
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["health"], response_class=Response)
    async def prometheus() -> Response:
        """Prometheus metrics in the text exposition format."""
        return Response(metrics.render(), media_type=metrics.content_type)
