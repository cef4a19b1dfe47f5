"""The runner keeps its heartbeat fresh while a long task runs."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from shipyard import Flow
from shipyard.metadata import MetadataBackend, open_metadata
from shipyard.metadata.liveness import HEARTBEAT_EVERY
from shipyard.metadata.records import AttemptRecord, RunRecord, RunStatus, TaskStatus

from ..conftest import FLOWS, Home
from ..waiting import wait_for


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
    assert record.heartbeat_at - run.record.created_at >= HEARTBEAT_EVERY - timedelta(seconds=1)


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
    store = open_metadata(home.env["SHIPYARD_METADATA"])
    try:
        # The first attempt fails at once; the retry is due 21 s later. While nothing runs,
        # the runner must still beat: wait for a beat after the failure, before the retry.
        wait_for(lambda: first_attempt(store) is not None, 60, "the first attempt failed")
        failure = first_attempt(store)
        assert failure is not None and failure.finished_at is not None
        wait_for(
            lambda: latest(store).heartbeat_at > failure.finished_at,
            HEARTBEAT_EVERY.total_seconds() + 10,
            "a heartbeat after the first attempt failed",
        )
        record = latest(store)
        assert record.status is RunStatus.RUNNING
        assert datetime.now(UTC) - record.heartbeat_at < HEARTBEAT_EVERY + timedelta(seconds=3)
        assert runner.wait(timeout=60) == 0
        retry = store.list_tasks("PatientFlow", record.run_id, "start")[0].attempts[1]
        assert record.heartbeat_at < retry.started_at  # it beat while the retry waited
    finally:
        runner.kill()
        store.close()


def latest(store: MetadataBackend) -> RunRecord:
    return store.list_runs("PatientFlow")[0]


def first_attempt(store: MetadataBackend) -> AttemptRecord | None:
    """The failed first attempt of PatientFlow's start step, once it is recorded."""
    runs = store.list_runs("PatientFlow")
    tasks = store.list_tasks("PatientFlow", runs[0].run_id, "start") if runs else []
    attempts = tasks[0].attempts if tasks else ()
    return attempts[0] if attempts and attempts[0].status is TaskStatus.FAILED else None
