"""Served-vector logging: a sample of what each model was given, kept as facts for drift.

A model version registered with a training snapshot is served through a `SampledModel`: after
each successful `predict`, every row is kept with probability `rate` (one `random()` per row)
and the kept rows are appended to the version's fact log (`served.<model>.<version>`, see
`shipyard.features.served`). That is all a prediction pays: the log's own thread converts
and writes the rows in batches, every `interval` seconds; its batch size is set beyond reach
so that a write never runs on a prediction thread. Logging must never fail a prediction: a
write that fails is reported in the server's log, and its rows are dropped (schema) or kept
for the next write (anything else), as `FactLog` does. Stopping the app closes the logs,
which writes everything still buffered; a crash loses at most `interval` seconds of rows.
"""

from __future__ import annotations

import logging
import random
import sys
import threading
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from shipyard.features.fact_log import FactLog
from shipyard.features.snapshot import TrainingSnapshot
from shipyard.serving.types import ServableModel, ServableSignature

__all__ = ["DEFAULT_RATE", "SampledModel", "VectorLog"]

logger = logging.getLogger("shipyard.serving")

#: The share of served rows logged by default: enough for drift, cheap to keep.
DEFAULT_RATE = 0.01
#: How often the buffered rows are written, in seconds.
DEFAULT_INTERVAL = 1.0


@runtime_checkable
class HasTrainingSnapshot(Protocol):
    """A loaded model that knows what its training inputs looked like (`LoadedModel`)."""

    @property
    def training_snapshot(self) -> TrainingSnapshot | None: ...


class VectorLog:
    """The fact logs of the served models' versions, opened as versions load."""

    def __init__(self, rate: float = DEFAULT_RATE, *, interval: float = DEFAULT_INTERVAL) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"the served-vector log rate is a share from 0 to 1, not {rate}")
        self.rate = rate
        self.interval = interval
        self._logs: dict[str, FactLog] = {}
        self._lock = threading.Lock()

    def wrap(self, model: Any) -> Any:
        """`model`, sampled into its version's log when it has a training snapshot (and the
        rate is not 0); otherwise `model` itself. Runs where models load (it declares the
        table: a metadata write)."""
        snapshot = model.training_snapshot if isinstance(model, HasTrainingSnapshot) else None
        if snapshot is None or self.rate == 0.0:
            return model
        return SampledModel(model, self._log(model.name, model.version, snapshot), self.rate)

    def close(self) -> None:
        """Write everything buffered and stop the logs' threads."""
        with self._lock:
            logs, self._logs = list(self._logs.values()), {}
        for log in logs:
            try:
                log.close()
            except Exception:
                logger.exception("writing the last served vectors of %s failed", log.table)

    def _log(self, name: str, version: int, snapshot: TrainingSnapshot) -> FactLog:
        from shipyard.features import facts
        from shipyard.features.served import declare_served_table, typed_rows

        store = facts.store(create=True)
        table = declare_served_table(store, name, version, snapshot)
        with self._lock:
            found = self._logs.get(table)
            if found is None:

                def write(rows: list[dict[str, Any]]) -> object:
                    return store.ingest(table, typed_rows(rows, snapshot))

                found = self._logs[table] = FactLog(
                    table, write, batch_size=sys.maxsize, interval=self.interval
                )
            return found


class SampledModel:
    """A served model whose successful predictions leave a sample of their rows in a log."""

    def __init__(self, model: ServableModel, log: FactLog, rate: float) -> None:
        self._model = model
        self._log = log
        self._rate = rate
        self._random: Callable[[], float] = random.random

    @property
    def name(self) -> str:
        return self._model.name

    @property
    def version(self) -> int:
        return self._model.version

    @property
    def flavor(self) -> str:
        return self._model.flavor

    @property
    def signature(self) -> ServableSignature | None:
        return self._model.signature

    def predict(self, frame: pd.DataFrame) -> list[Any]:
        predictions = self._model.predict(frame)
        draw, rate = self._random, self._rate
        kept = [position for position in range(len(frame)) if draw() < rate]
        if kept:
            self._keep(frame, kept)
        return predictions

    def _keep(self, frame: pd.DataFrame, positions: list[int]) -> None:
        from shipyard.features.served import served_records

        try:
            for row in served_records(frame, positions):
                self._log.log(row)
        except Exception as exc:  # a broken log must not fail the prediction
            logger.warning("logging served vectors to %s failed: %s", self._log.table, exc)
