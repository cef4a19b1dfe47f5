"""Telling a run whose runner is gone from a live one, on this host and on others."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from shipyard.exceptions import ShipyardError
from shipyard.metadata import MetadataBackend
from shipyard.metadata.liveness import LOST_AFTER, is_lost, runner_is_alive, shown_status
from shipyard.metadata.models import Run
from shipyard.metadata.records import RunRecord, RunStatus
from shipyard.metadata.sql.backend import SQLMetadataBackend
from shipyard.runtime.resume import settle_abandoned_run

HERE = socket.gethostname()


def dead_pid() -> int:
    """The pid of a process that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def started(
    store: MetadataBackend, host: str, pid: int, heartbeat_age: timedelta | None = None
) -> RunRecord:
    run_id = store.create_run("F", "u", runner_host=host, runner_pid=pid)
    if heartbeat_age is not None:
        assert isinstance(store, SQLMetadataBackend)  # an old heartbeat is written in SQL
        with store.database.write() as conn:
            conn.execute(
                update(Run)
                .where(Run.id == int(run_id))
                .values(heartbeat_at=datetime.now(UTC) - heartbeat_age)
            )
    return store.get_run("F", run_id)


def test_a_live_runner_on_this_host_is_alive(store: MetadataBackend) -> None:
    run = started(store, HERE, os.getpid())
    assert run.heartbeat_at is not None
    assert runner_is_alive(run) and not is_lost(run)
    assert shown_status(run) is RunStatus.RUNNING


def test_a_dead_runner_on_this_host_is_lost_at_once(store: MetadataBackend) -> None:
    run = started(store, HERE, dead_pid())
    assert is_lost(run) and shown_status(run) is RunStatus.LOST


def test_a_reused_pid_does_not_keep_a_stale_run_alive(store: MetadataBackend) -> None:
    run = started(store, HERE, os.getpid(), heartbeat_age=LOST_AFTER + timedelta(seconds=5))
    assert is_lost(run)


def test_on_another_host_the_heartbeat_decides(store: MetadataBackend) -> None:
    fresh = started(store, "elsewhere", 1, heartbeat_age=timedelta(seconds=5))
    stale = started(store, "elsewhere", 1, heartbeat_age=LOST_AFTER + timedelta(seconds=5))
    assert runner_is_alive(fresh)
    assert is_lost(stale)


def test_beat_refreshes_the_heartbeat(store: MetadataBackend) -> None:
    run = started(store, "elsewhere", 1, heartbeat_age=LOST_AFTER + timedelta(seconds=5))
    store.beat("F", run.run_id)
    assert not is_lost(store.get_run("F", run.run_id))


def test_finished_runs_are_never_lost(store: MetadataBackend) -> None:
    run = started(store, HERE, dead_pid())
    store.finish_run("F", run.run_id, RunStatus.SUCCEEDED)
    assert shown_status(store.get_run("F", run.run_id)) is RunStatus.SUCCEEDED


def test_resume_refuses_a_run_alive_on_another_host(store: MetadataBackend) -> None:
    run = started(store, "elsewhere", 1, heartbeat_age=timedelta(seconds=5))
    with pytest.raises(ShipyardError, match=r"is still running .* on elsewhere, last heartbeat"):
        settle_abandoned_run(store, run)
    assert store.get_run("F", run.run_id).status is RunStatus.RUNNING


def test_resume_settles_a_run_lost_on_another_host(store: MetadataBackend) -> None:
    run = started(store, "elsewhere", 1, heartbeat_age=LOST_AFTER + timedelta(minutes=1))
    settle_abandoned_run(store, run)
    assert store.get_run("F", run.run_id).status is RunStatus.FAILED
