"""Exposures: one fact per scored request of an experiment (unit, experiment, cell, version,
time), in the fact table `experiment_exposures`, written by the scoring server through a
buffered `FactLog` and read by the analysis.

The log's guarantees are the fact log's: rows are written in batches (every `interval`
seconds or `batch_size` rows) off the request path; a clean shutdown flushes what is
buffered, so exposures equal requests; **a crash loses at most the last `interval` seconds
(or `batch_size` rows) of exposures**. Each log stamps its exposures with strictly increasing
times (a microsecond apart at least), so two exposures of one unit never share an event time
in a batch, which the fact store would refuse as ambiguous. A scoring server hands the writes
to a child process (`exposure_process.ExposureProcess`), which keeps them off its GIL.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shipyard.features.fact_log import FactLog

if TYPE_CHECKING:
    from shipyard.experiments.exposure_process import ExposureProcess
    from shipyard.features.facts import FactStore

__all__ = ["EXPOSURES", "EXPOSURE_SCHEMA", "ExposureLog", "declare_exposures", "with_times"]

#: The fact table of every experiment's exposures.
EXPOSURES = "experiment_exposures"
EXPOSURE_SCHEMA = {
    "unit": "string",
    "ts": "timestamp",
    "experiment": "string",
    "cell": "string",
    "model": "string",
    "version": "int64",
}
_MICROSECOND = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def declare_exposures(store: FactStore) -> None:
    """Declare the exposures table (a no-op once it exists)."""
    store.table(EXPOSURES, entity="unit", event_time="ts", schema=EXPOSURE_SCHEMA)


def with_times(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Exposure rows as the fact store takes them: `ts`, logged as microseconds since the
    epoch, as an aware UTC datetime."""
    return [{**row, "ts": _EPOCH + row["ts"] * _MICROSECOND} for row in rows]


class ExposureLog:
    """A buffered writer of exposures into `store`; thread-safe. Close it to flush.

    With `process`, the batches are written by that child process (into the same store);
    closing the log flushes, then ends the process.
    """

    def __init__(
        self,
        store: FactStore,
        *,
        batch_size: int = 10_000,
        interval: float = 1.0,
        process: ExposureProcess | None = None,
    ):
        declare_exposures(store)
        self._process = process
        self._log = FactLog(
            EXPOSURES,
            (
                (lambda rows: store.ingest(EXPOSURES, with_times(rows)))
                if process is None
                else (lambda rows: process.ingest(EXPOSURES, rows, with_times))
            ),
            batch_size=batch_size,
            interval=interval,
        )
        #: The last stamp given, in microseconds since the epoch.
        self._last = 0
        self._clock = threading.Lock()

    def log(self, unit: object, experiment: str, cell: str, model: str, version: int) -> None:
        """Buffer one exposure of `unit` (kept as its `str`) to `cell`, stamped now.

        The stamp stays an int of microseconds until the batch is written (`with_times`):
        a scoring server hands its batches to a child process, and pickling `datetime`s
        held its GIL three times as long."""
        with self._clock:
            now = max(time.time_ns() // 1_000, self._last + 1)
            self._last = now
        row: dict[str, Any] = {
            "unit": str(unit),
            "ts": now,
            "experiment": experiment,
            "cell": cell,
            "model": model,
            "version": version,
        }
        self._log.log(row)

    def flush(self) -> None:
        """Write the buffered exposures now."""
        self._log.flush()

    def close(self) -> None:
        """Flush and stop; a clean shutdown calls this, so no exposure is lost."""
        try:
            self._log.close()
        finally:
            if self._process is not None:
                self._process.close()
