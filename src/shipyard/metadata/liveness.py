"""Whether a run marked running still has a runner: a killed runner cannot say it died.

On the runner's own host the process table answers at once. Elsewhere only the heartbeat
does: the runner refreshes it every few seconds while it schedules, so one older than
`LOST_AFTER` means the runner is gone (killed, its machine lost) and the run never will end.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta

from shipyard.metadata.records import RunRecord, RunStatus

__all__ = [
    "HEARTBEAT_EVERY",
    "LOST_AFTER",
    "is_lost",
    "process_exists",
    "runner_alive",
    "runner_is_alive",
    "shown_status",
]

HEARTBEAT_EVERY = timedelta(seconds=10)
#: Generous against a runner briefly blocked (a busy database), short against a dead one.
LOST_AFTER = timedelta(minutes=2)


def process_exists(pid: int) -> bool:
    """Whether process `pid` exists on this machine (whoever owns it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def runner_is_alive(run: RunRecord, now: datetime | None = None) -> bool:
    """Whether the process scheduling `run` is still there, as far as can be told."""
    if run.status is not RunStatus.RUNNING:
        return False
    return runner_alive(run.runner_host, run.runner_pid, run.heartbeat_at, now)


def runner_alive(
    host: str | None, pid: int | None, heartbeat_at: datetime | None, now: datetime | None = None
) -> bool:
    """Whether the runner recorded as process `pid` on `host`, last heard of at `heartbeat_at`,
    is still there: for a store that has the columns of a running run but no record yet."""
    now = now or datetime.now(UTC)
    stale = heartbeat_at is not None and now - heartbeat_at > LOST_AFTER
    if host == socket.gethostname() and pid is not None:
        # A live pid with a stale heartbeat is another process that reused the number.
        return process_exists(pid) and not stale
    if heartbeat_at is None:  # recorded before heartbeats existed: assume it lives
        return True
    return not stale


def is_lost(run: RunRecord, now: datetime | None = None) -> bool:
    """A run still marked running whose runner is gone: only `resume` will finish it."""
    return run.status is RunStatus.RUNNING and not runner_is_alive(run, now)


def shown_status(run: RunRecord) -> RunStatus:
    """The status to show: the stored one, or LOST for a running run nobody is running."""
    return RunStatus.LOST if is_lost(run) else run.status
