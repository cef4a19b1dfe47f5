"""A task whose spec asks for a fresh interpreter runs on the task entrypoint, not a fork.

The local executor starts it as `python -m shipyard.runtime.worker` while the other tasks
of the run keep forking from the warm server; logs, results, retries and deaths are
handled alike. Here the steps are marked by wrapping the executor, as a decorator's
before-launch hook would mark them.
"""

from __future__ import annotations

import os
import socket
from dataclasses import replace

from shipyard.datastore.blobs import BlobStore
from shipyard.flow.spec import FlowSpec
from shipyard.metadata.records import TaskStatus
from shipyard.runtime.local import LocalExecutor
from shipyard.runtime.spec import TaskSpec
from shipyard.runtime.start_method import StartMethod

from .flows.decorated_flow import DecoratedFlow
from .flows.where_flow import WhereFlow


class FreshFor(LocalExecutor):
    """The local executor, starting the steps named in `STEPS` in a fresh interpreter."""

    STEPS: frozenset[str] = frozenset()

    def submit(self, spec: TaskSpec) -> None:
        super().submit(replace(spec, fresh_interpreter=spec.step_name in self.STEPS))


def fresh_for(*steps: str):
    def make(flow_class: type[FlowSpec], blobs: BlobStore) -> LocalExecutor:
        executor = type("Fresh", (FreshFor,), {"STEPS": frozenset(steps)})
        return executor(flow_class, blobs, max_workers=2, start_method=StartMethod.FORK)

    return make


def test_a_fresh_interpreter_step_is_not_a_fork_and_the_rest_are(scheduling):
    _, run = scheduling.run(WhereFlow, {"greeting": "hi"}, executor=fresh_for("start"))
    assert run.successful
    start_at, end_at = run["start"].task.data.start_at, run.data.end_at
    # start imported the flow itself, from the run's code snapshot...
    assert start_at["imported_in"] == start_at["pid"] != os.getpid()
    assert start_at["module"].startswith("_shipyard_flow_")
    # ...while end was forked, with the flow this process imported.
    assert end_at["imported_in"] == os.getpid() != end_at["pid"]
    assert run.data.sentence == "hi world"


def test_its_logs_host_and_retries_are_kept_as_for_forked_tasks(scheduling):
    _, run = scheduling.run(WhereFlow, {"greeting": "hello"}, executor=fresh_for("start", "end"))
    start = run["start"].task
    assert start.stdout == "hello from start\n"
    assert start.stderr == "straight to descriptor 2\n"
    assert start.attempts[0].host == socket.gethostname()
    end = run["end"].task
    assert [a.status for a in end.attempts] == [TaskStatus.FAILED, TaskStatus.SUCCEEDED]
    assert end.logs(attempt=0) == "attempt 0 of end\n"
    assert "RuntimeError: the first attempt of end fails" in end.logs("stderr", attempt=0)


def test_an_interpreter_that_exits_is_a_failed_task_with_its_exit_code(scheduling):
    _, run = scheduling.run(DecoratedFlow, {"mode": "crash"}, executor=fresh_for("work"))
    assert run.successful  # @catch covers it
    task = run["work"].task
    assert "exited with code 5" in task.data.problem.message
    assert [a.exit_code for a in task.attempts] == [5, 5, 5]


def test_a_before_launch_hook_sends_its_step_to_a_fresh_interpreter(home):
    result = home.run_flow("fresh_hook_flow.py", "run", "--quiet", "--start-method", "fork")
    assert result.returncode == 0, result.stderr
    from shipyard import Flow

    run = Flow("FreshHookFlow").latest_run
    start_pid, start_imported_in = run["start"].task.data.start_at
    train_pid, train_imported_in = run["train"].task.data.train_at
    # start was forked from the runner, which had imported the flow...
    assert start_imported_in != start_pid
    # ...train imported it itself, in the interpreter the hook asked for.
    assert train_imported_in == train_pid
