"""Exposures written by a child process, as `shipyard serve --experiments` writes them: every
exposure logged is stored once the log is closed, the child then ends, and a write the store
refuses raises its error in the server, the child writing on afterwards."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from shipyard.client.context import current_context
from shipyard.config import Config
from shipyard.experiments.exposure_process import ExposureProcess, FactStoreAddress
from shipyard.experiments.exposures import EXPOSURES, declare_exposures
from shipyard.features import facts
from shipyard.features.fact_schema import FactSchemaError
from shipyard.serving.experiments import ExperimentRouting

from ..conftest import Home


def exposure(unit: str, ts: object) -> dict[str, object]:
    return {
        "unit": unit,
        "ts": ts,
        "experiment": "ranker-v4",
        "cell": "control",
        "model": "ranker",
        "version": 1,
    }


def test_every_exposure_a_server_logs_is_stored_by_its_child_on_close(home: Home) -> None:
    log = ExperimentRouting.from_config(flush_seconds=0.05).exposures
    units = [f"member-{i}" for i in range(300)]
    before = datetime.now(UTC)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda unit: log.log(unit, "ranker-v4", "control", "ranker", 1), units))
    after = datetime.now(UTC)
    log.close()

    stored = facts.read(EXPOSURES)
    assert sorted(stored["unit"]) == sorted(units)
    assert multiprocessing.active_children() == []  # the child ended with the log
    # Each stamped when it was logged, and no two alike (a unit's exposures never collide).
    times = sorted(stored["ts"])
    assert before <= times[0] and times[-1] <= after + timedelta(milliseconds=1)
    assert len(set(times)) == len(times)


def test_a_refused_write_raises_in_the_caller_and_the_child_writes_on(home: Home) -> None:
    declare_exposures(facts.store(create=True))
    context = current_context()
    address = FactStoreAddress(context.datastore_url, context.metadata_url, Config.current().user)
    process = ExposureProcess(address)
    try:
        with pytest.raises(FactSchemaError):
            process.ingest(EXPOSURES, [exposure("member-1", "not a time")])
        process.ingest(EXPOSURES, [exposure("member-2", datetime(2026, 3, 1, tzinfo=UTC))])
    finally:
        process.close()

    assert list(facts.read(EXPOSURES)["unit"]) == ["member-2"]
