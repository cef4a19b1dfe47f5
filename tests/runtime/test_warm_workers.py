"""Warm workers: the local executor runs task after task in one process, within bounds.

A worker (forked from the fork server, or spawned) keeps running tasks, so a task costs a
message instead of a process; it leaves after a failed task and once a task left it holding
`RETIRE_AFTER_GROWTH_BYTES` more memory, and a forked one also after `TASKS_PER_WORKER`
tasks; a new one takes its place. Module-level state stays from task to task of one worker,
as on Ray.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from shipyard import Flow, Run
from shipyard.runtime.pool import RETIRE_AFTER_GROWTH_BYTES, TASKS_PER_WORKER

from ..conftest import Home

pytestmark = pytest.mark.usefixtures("each_start_method")


def run_reuse(home: Home, *args: str) -> tuple[Run, dict[int, list[int]]]:
    """Run ReuseFlow one task at a time; also what each process saw, pid -> [tasks before]."""
    done = home.run_flow("reuse_flow.py", "run", "--max-workers", "1", *args)
    assert done.returncode == 0, done.stderr
    run = Flow("ReuseFlow").latest_run
    assert run is not None and run.successful
    seen: dict[int, list[int]] = defaultdict(list)
    for pid, earlier in [run["start"].task.data.at, *run.data.work_at]:
        seen[pid].append(earlier)
    return run, seen


def test_a_worker_runs_task_after_task_up_to_its_bound(home: Home, each_start_method: str):
    _, seen = run_reuse(home, "--width", str(TASKS_PER_WORKER + 2))
    # Each process ran its tasks one after another, keeping what the earlier ones left.
    for earlier in seen.values():
        assert sorted(earlier) == list(range(min(earlier), min(earlier) + len(earlier)))
    busiest = max(len(earlier) for earlier in seen.values())
    if each_start_method == "fork":
        # Every task counts (the failed attempt too) and none ran past the bound: 104 tasks
        # and a failed attempt take two workers by the bound, and one more after the failure.
        assert all(max(earlier) < TASKS_PER_WORKER for earlier in seen.values())
        assert busiest >= TASKS_PER_WORKER - 2 and len(seen) == 3
    else:  # a spawned worker has no bound: one worker before the failure, one after it
        assert busiest == TASKS_PER_WORKER + 1 and len(seen) == 2


def test_a_failed_attempt_leaves_its_worker_and_the_retry_starts_clean(home: Home):
    run, _ = run_reuse(home, "--width", "3")
    assert run.data.attempts == [0, 1, 0]
    # No task ran in the process where item 1's first attempt failed.
    assert run.data.after_a_failure == [False, False, False]


def test_a_worker_holding_much_more_memory_leaves_after_its_task(home: Home):
    held_mb = (RETIRE_AFTER_GROWTH_BYTES >> 20) + 64
    run, seen = run_reuse(home, "--width", "4", "--hold-mb", str(held_mb), "--fail-item", "-1")
    (first_pid, first_earlier), *rest = run.data.work_at
    # Item 0 kept the memory: nothing ran after it in its process; the rest shared one.
    assert max(seen[first_pid]) == first_earlier
    assert len({pid for pid, _ in rest}) == 1 and first_pid not in dict(rest)
