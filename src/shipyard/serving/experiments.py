"""Experiment routing in the scoring server: `POST /v1/experiments/{name}/predict` scores a
unit's rows with the model version of the unit's cell and logs the exposure.

The router follows the experiment store: every `poll_seconds` it lists the running
experiments, loads the versions of a new one's cells (fixed when it started) and serves it;
an experiment that stopped is noticed at the next poll and from then on every unit gets its
control cell, and no exposure is logged. Allocation is the experiment's own (`Allocation`, no
I/O per request). A unit the holdout or the layer keeps out of the experiment is scored by the
control version too, with cell `null`, and is not exposed.

Each version has one micro-batcher, shared by every experiment that uses it. Exposures go to
an `ExposureLog` (buffered, handed every flush interval to a child process that writes them,
flushed when the app shuts down): the request path only appends to a list.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Self

from fastapi import FastAPI, Query
from fastapi.responses import Response

from shipyard.experiments.allocation import Allocation
from shipyard.experiments.exposure_process import ExposureProcess, FactStoreAddress
from shipyard.experiments.exposures import ExposureLog
from shipyard.experiments.lifecycle import allocation_of
from shipyard.metadata.contract import ExperimentStore
from shipyard.metadata.experiment_records import ExperimentRecord, ExperimentState
from shipyard.serving.batching import MicroBatcher, Rows
from shipyard.serving.errors import ModelNotReady, ServingError
from shipyard.serving.responses import prediction_response
from shipyard.serving.schemas import (
    ExperimentAssignment,
    ExperimentPredictRequest,
    ExperimentPredictResponse,
)
from shipyard.serving.types import ServableModel

__all__ = [
    "ExperimentNotServed",
    "ExperimentRouter",
    "ExperimentRouting",
    "Routed",
    "add_experiment_routes",
]

logger = logging.getLogger("shipyard.serving")

VersionKey = tuple[str, int]


class ExperimentNotServed(ServingError):
    """No running (or recently stopped) experiment of that name is served here."""

    status_code = 404


#: Rows an exposure log holds before the request that fills it writes them itself: high,
#: so that writes happen on the log's background thread (every flush interval), never on the
#: event loop.
_EXPOSURE_BUFFER_ROWS = 1_000_000


@dataclass(frozen=True)
class ExperimentRouting:
    """What a server needs to route experiments: their store, and the log of exposures."""

    store: ExperimentStore
    exposures: ExposureLog
    poll_seconds: float = 2.0

    @classmethod
    def from_config(cls, poll_seconds: float = 2.0, flush_seconds: float = 1.0) -> Self:
        """The experiments and fact store of the current configuration; exposures are written
        every `flush_seconds` (what a crash may lose), by a child process (`ExposureProcess`).

        The child is spawned, so a script calling this must guard its entry point
        (`if __name__ == "__main__":`), as any program starting processes that way must.
        """
        from shipyard.client.context import current_context
        from shipyard.config import Config
        from shipyard.features.facts import store

        context = current_context()
        address = FactStoreAddress(
            context.datastore_url, context.metadata_url, Config.current().user
        )
        log = ExposureLog(
            store(create=True),
            batch_size=_EXPOSURE_BUFFER_ROWS,
            interval=flush_seconds,
            process=ExposureProcess(address),
        )
        return cls(context.metadata_for_writing().experiments, log, poll_seconds)


@dataclass(frozen=True)
class Routed:
    """Where one unit's request goes: its cell (None: not in the experiment) and version, and
    whether scoring it is an exposure."""

    experiment: str
    cell: str | None
    model: str
    version: int
    state: ExperimentState
    exposed: bool


class _ServedExperiment:
    """One served experiment: its allocation and the version of each cell."""

    def __init__(self, record: ExperimentRecord) -> None:
        definition = record.definition
        self.name = record.name
        self.allocation: Allocation = allocation_of(record)
        self.control = definition.control
        self.versions: dict[str, VersionKey] = {
            cell.name: (_model_name(cell.model), int(cell.version or 0))
            for cell in definition.cells
        }
        self.state = record.state

    def route(self, unit: object) -> Routed:
        running = self.state is ExperimentState.RUNNING
        cell = self.allocation.assign(unit) if running else self.control
        model, version = self.versions[cell or self.control]
        return Routed(self.name, cell, model, version, self.state, running and cell is not None)


def _model_name(ref: str) -> str:
    from shipyard.registry.refs import ModelRef

    return ModelRef.parse(ref).name


class ExperimentRouter:
    """The experiments one app serves, kept up to date with the store in the background.

    `load(name, version)` returns a ready model (blocking: it runs on the store executor);
    `observe` is given to each version's batcher (metrics).
    """

    def __init__(
        self,
        routing: ExperimentRouting,
        load: Callable[[str, int], ServableModel],
        batcher: Callable[[Callable[[], ServableModel | None]], MicroBatcher],
    ) -> None:
        self.routing = routing
        self._load = load
        self._batcher = batcher
        self._served: dict[str, _ServedExperiment] = {}
        self._models: dict[VersionKey, ServableModel] = {}
        self._batchers: dict[VersionKey, MicroBatcher] = {}
        self._store_executor: Executor | None = None
        self._predict_executor: Executor | None = None
        self._task: asyncio.Task[None] | None = None
        self.ready = False
        self.last_error: str | None = None

    # ------------------------------------------------------------------------- life

    def start(self, store_executor: Executor, predict_executor: Executor) -> None:
        """Begin following the store (returns at once; `ready` after the first poll)."""
        self._store_executor = store_executor
        self._predict_executor = predict_executor
        self._task = asyncio.get_running_loop().create_task(
            self._follow(), name="shipyard-experiments"
        )

    async def stop(self) -> None:
        """Stop polling and batching, then flush the exposures (none is lost)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for batcher in self._batchers.values():
            await batcher.stop()
        await asyncio.get_running_loop().run_in_executor(None, self.routing.exposures.close)

    async def _follow(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self.routing.poll_seconds)

    async def refresh(self) -> None:
        """Serve new running experiments and notice stopped ones; a failure is logged and the
        experiments served so far keep serving."""
        loop = asyncio.get_running_loop()
        store = self.routing.store
        try:
            running = await loop.run_in_executor(
                self._store_executor, lambda: store.list_experiments(state=ExperimentState.RUNNING)
            )
            names = {record.name for record in running}
            for record in running:
                if record.name not in self._served:
                    await self._serve(record)
            for name, served in self._served.items():
                if name not in names and served.state is ExperimentState.RUNNING:
                    record = await loop.run_in_executor(
                        self._store_executor, store.get_experiment, name
                    )
                    served.state = record.state
                    logger.info("experiment %s is %s: serving its control cell", name, record.state)
        except Exception as exc:
            message = f"cannot follow the experiments: {type(exc).__name__}: {exc}"
            if message != self.last_error:
                logger.error(message)
            self.last_error = message
            return
        self.last_error = None
        self.ready = True

    async def _serve(self, record: ExperimentRecord) -> None:
        served = _ServedExperiment(record)
        loop = asyncio.get_running_loop()
        for key in set(served.versions.values()):
            if key not in self._models:
                self._models[key] = await loop.run_in_executor(
                    self._store_executor, self._load, *key
                )
                batcher = self._batcher(lambda key=key: self._models.get(key))  # type: ignore[misc]
                assert self._predict_executor is not None
                batcher.start(self._predict_executor)
                self._batchers[key] = batcher
        self._served[record.name] = served
        logger.info("serving experiment %s: %s", record.name, served.versions)

    # ------------------------------------------------------------------------- requests

    def route(self, name: str, unit: object) -> Routed:
        """Where `unit`'s request to experiment `name` goes (no I/O)."""
        served = self._served.get(name)
        if served is None:
            if not self.ready:
                raise ModelNotReady("the experiments have not loaded yet; retry shortly")
            listing = ", ".join(sorted(self._served)) or "none"
            raise ExperimentNotServed(
                f"experiment {name!r} is not running here (served: {listing}); start it with "
                "`shipyard experiments start` and it is served within the poll interval"
            )
        return served.route(unit)

    async def predict(self, name: str, unit: object, rows: Rows) -> tuple[Routed, list[Any]]:
        """Score `rows` with the version of `unit`'s cell; log the exposure once scored."""
        routed = self.route(name, unit)
        scored = await self._batchers[(routed.model, routed.version)].submit(rows)
        if routed.exposed:
            assert routed.cell is not None
            self.routing.exposures.log(unit, name, routed.cell, routed.model, routed.version)
        return routed, scored.predictions


def add_experiment_routes(
    app: FastAPI, router: ExperimentRouter, errors: dict[int | str, Any]
) -> None:
    (
        """The experiment endpoints of `app`, answered by `router`.

    Their types are imported at module level: FastAPI reads the endpoints' annotations
    (strings, under `from __future__ import annotations`) in this module's globals."""
        ""
    )

    @app.post(
        "/v1/experiments/{name}/predict",
        response_model=ExperimentPredictResponse,
        responses=errors,
        tags=["experiments"],
    )
    async def predict(name: str, body: ExperimentPredictRequest) -> Response:
        """Score a unit's rows with its cell's model version; the request is an exposure."""
        rows = Rows(records=body.records, columns=body.columns, entities=body.entities)
        routed, predictions = await router.predict(name, body.unit, rows)
        return prediction_response(
            {
                "experiment": name,
                "unit": str(body.unit),
                "cell": routed.cell,
                "model": routed.model,
                "version": routed.version,
                "predictions": predictions,
            }
        )

    @app.get(
        "/v1/experiments/{name}/assignment",
        response_model=ExperimentAssignment,
        responses={404: errors[404], 422: errors[422], 503: errors[503]},
        tags=["experiments"],
    )
    async def assignment(
        name: str, unit: str = Query(min_length=1, description="The unit to look up.")
    ) -> ExperimentAssignment:
        """The cell and version a unit's requests go to; nothing is scored or logged."""
        routed = router.route(name, unit)
        return ExperimentAssignment(
            experiment=name,
            unit=unit,
            cell=routed.cell,
            model=routed.model,
            version=routed.version,
            state=str(routed.state),
        )
