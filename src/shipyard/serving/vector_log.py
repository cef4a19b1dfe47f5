"""Served-vector logging: a sample of what each model was given, kept as facts for drift.

When a version registered with a training snapshot loads, `prepare` declares its fact table
(`served.<model>.<version>`, see `shipyard.features.served`) and opens a `FactLog` for it.
After each successful `predict`, the batcher hands the frame to `offer`: every row is kept
with probability `rate` (one `random()` per row) and the kept rows are appended to the log.
That is all a prediction pays: the log's own thread converts and writes the rows in batches,
every `interval` seconds; its batch size is set beyond reach so that a write never runs on a
prediction thread. Logging never fails a prediction: a write that fails is reported in the
server's log, and its rows are dropped (schema) or kept for the next write (anything else),
as `FactLog` does. `close` (the app stopping) writes everything still buffered; a crash
loses at most `interval` seconds of rows.
"""

from __future__ import annotations

import logging
import random
import sys
import threading
from typing import Any

import pandas as pd

from shipyard.features.fact_log import FactLog
from shipyard.serving.types import ServableModel, training_snapshot

__all__ = ["DEFAULT_INTERVAL", "DEFAULT_RATE", "VectorLog"]

logger = logging.getLogger("shipyard.serving")

#: The share of served rows logged by default: enough for drift, cheap to keep.
DEFAULT_RATE = 0.01
#: How often the buffered rows are written, in seconds.
DEFAULT_INTERVAL = 1.0


class VectorLog:
    """The fact logs of the served versions that have a training snapshot."""

    def __init__(self, rate: float = DEFAULT_RATE, *, interval: float = DEFAULT_INTERVAL) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"the served-vector log rate is a share from 0 to 1, not {rate}")
        self.rate = rate
        self.interval = interval
        self._logs: dict[tuple[str, int], FactLog] = {}
        self._lock = threading.Lock()

    def prepare(self, model: Any) -> Any:
        """Open the log of `model`'s version if it has a training snapshot (and the rate is
        not 0); returns `model`. Runs where models load: it declares the fact table."""
        snapshot = training_snapshot(model)
        if snapshot is None or self.rate == 0.0:
            return model
        from shipyard.features import facts
        from shipyard.features.served import declare_served_table, typed_rows

        store = facts.store(create=True)
        table = declare_served_table(store, model.name, model.version, snapshot)

        def write(rows: list[dict[str, Any]]) -> object:
            return store.ingest(table, typed_rows(rows, snapshot))

        with self._lock:
            if (model.name, model.version) not in self._logs:
                self._logs[model.name, model.version] = FactLog(
                    table, write, batch_size=sys.maxsize, interval=self.interval
                )
        return model

    def offer(self, model: ServableModel, frame: pd.DataFrame) -> None:
        """Log a sample of the rows `model` was just given (a prediction thread calls it)."""
        log = self._logs.get((model.name, model.version))
        if log is None:
            return
        draw, rate = random.random, self.rate
        kept = [position for position in range(len(frame)) if draw() < rate]
        if not kept:
            return
        from shipyard.features.served import served_records

        try:
            for row in served_records(frame, kept):
                log.log(row)
        except Exception as exc:  # a broken log must not fail the prediction
            logger.warning("logging served vectors to %s failed: %s", log.table, exc)

    def close(self) -> None:
        """Write everything buffered and stop the logs' threads."""
        with self._lock:
            logs, self._logs = list(self._logs.values()), {}
        for log in logs:
            try:
                log.close()
            except Exception:
                logger.exception("writing the last served vectors to %s failed", log.table)
