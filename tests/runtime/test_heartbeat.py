"""The runner keeps its heartbeat fresh while a long task runs."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from shipyard import Flow
from shipyard.metadata import open_metadata
from shipyard.metadata.liveness import HEARTBEAT_EVERY
from shipyard.metadata.records import RunStatus

from ..conftest import FLOWS, Home


@pytest.mark.slow
def test_a_long_task_does_not_make_its_run_look_lost(home: Home):
    done = home.run_flow("sleepy_flow.py", "run")
    assert done.returncode == 0, done.stderr
    run = Flow("SleepyFlow").latest_run
    store = open_metadata(home.env["SHIPYARD_METADATA"])
    record = store.get_run("SleepyFlow", run.id)
    store.close()
    assert record.heartbeat_at is not None
    # Created with a first beat, then beaten again while the 11 s step ran.
    assert record.heartbeat_at - run.created_at >= HEARTBEAT_EVERY - timedelta(seconds=1)


@pytest.mark.slow
def test_waiting_for_a_retry_keeps_the_heartbeat_fresh(home: Home):
    """Nothing runs while a retry waits its pause, yet the run must not look lost."""
    runner = subprocess.Popen(
        [sys.executable, str(FLOWS / "patient_flow.py"), "run", "--quiet"],
        env=home.env,
        cwd=home.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(16)  # the first attempt failed at once; the retry is due after 21 s
        store = open_metadata(home.env["SHIPYARD_METADATA"])
        record = store.list_runs("PatientFlow")[0]
        store.close()
        assert record.status is RunStatus.RUNNING
        assert datetime.now(UTC) - record.heartbeat_at < HEARTBEAT_EVERY + timedelta(seconds=3)
        assert runner.wait(timeout=60) == 0
    finally:
        runner.kill()
