"""The runner keeps its heartbeat fresh while a long task runs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shipyard import Flow
from shipyard.metadata.liveness import HEARTBEAT_EVERY
from shipyard.metadata.store import MetadataStore

from ..conftest import Home


@pytest.mark.slow
def test_a_long_task_does_not_make_its_run_look_lost(home: Home):
    done = home.run_flow("sleepy_flow.py", "run")
    assert done.returncode == 0, done.stderr
    run = Flow("SleepyFlow").latest_run
    store = MetadataStore(home.env["SHIPYARD_METADATA"])
    record = store.get_run("SleepyFlow", run.id)
    store.close()
    assert record.heartbeat_at is not None
    # Created with a first beat, then beaten again while the 11 s step ran.
    assert record.heartbeat_at - run.created_at >= HEARTBEAT_EVERY - timedelta(seconds=1)
