"""Step decorators alone and combined, on real runs."""

from __future__ import annotations

import itertools
import socket

import pytest

from shipyard import Flow, FlowSpec, StepFailure, catch, retry, step, timeout
from shipyard.exceptions import FlowDefinitionError, FlowLintErrors
from shipyard.flow.graph import FlowGraph
from shipyard.flow.lint import lint
from shipyard.metadata.records import TaskStatus

from ..conftest import Home


def work_task(flow: str):
    return Flow(flow).latest_run["work"].task


def test_retry_runs_a_failed_task_again_recording_each_attempt(home: Home):
    done = home.run_flow("retry_only_flow.py", "run")
    assert done.returncode == 0, done.stderr
    task = work_task("RetryOnlyFlow")
    assert task.successful
    assert task.data.value == "second attempt worked"
    assert [(a.attempt, a.status) for a in task.attempts] == [
        (0, TaskStatus.FAILED),
        (1, TaskStatus.SUCCEEDED),
    ]
    assert "first attempt fails" in (task.attempts[0].error or "")
    assert task.logs("stdout", attempt=0).strip() == "attempt 0"
    assert task.logs("stdout", attempt=1).strip() == "attempt 1"
    assert {a.host for a in task.attempts} == {socket.gethostname()}


def test_timeout_fails_a_task_that_runs_too_long(home: Home):
    done = home.run_flow("timeout_only_flow.py", "run")
    assert done.returncode == 1
    assert "StepTimeout" in done.stderr and "exceeded its @timeout of 1s" in done.stderr
    assert not work_task("TimeoutOnlyFlow").successful


def test_catch_stores_the_error_and_the_flow_goes_on(home: Home):
    done = home.run_flow("decorated_flow.py", "run", "--mode", "always")
    assert done.returncode == 0, done.stderr
    run = Flow("DecoratedFlow").latest_run
    assert run.successful
    task = run["work"].task
    problem = task.data.problem
    assert isinstance(problem, StepFailure)
    assert problem.exception_type == "RuntimeError" and problem.message == "always fails"
    assert len(task.attempts) == 3  # retried twice before the catch
    assert task.data.mode == "always"  # inherited artifacts survive the catch


def test_retry_timeout_and_catch_combined_on_a_flaky_step(home: Home):
    done = home.run_flow("decorated_flow.py", "run", "--mode", "flaky")
    assert done.returncode == 0, done.stderr
    task = work_task("DecoratedFlow")
    assert task.data.attempt_that_worked == 2
    assert task.data.problem is None
    assert task.data.env_value == "set-by-decorator"
    assert [a.status for a in task.attempts] == [
        TaskStatus.FAILED,
        TaskStatus.FAILED,
        TaskStatus.SUCCEEDED,
    ]


def test_timeout_with_retries_and_catch_stores_the_timeout(home: Home):
    done = home.run_flow("decorated_flow.py", "run", "--mode", "slow")
    assert done.returncode == 0, done.stderr
    task = work_task("DecoratedFlow")
    assert task.data.problem.exception_type.endswith("StepTimeout")
    assert len(task.attempts) == 3


def test_catch_also_covers_a_crashed_process(home: Home):
    done = home.run_flow("decorated_flow.py", "run", "--mode", "crash")
    assert done.returncode == 0, done.stderr
    problem = work_task("DecoratedFlow").data.problem
    assert "exited with code 5" in problem.message


@pytest.mark.slow
def test_a_step_that_ignores_its_timeout_is_killed(home: Home):
    done = home.run_flow("decorated_flow.py", "run", "--mode", "stuck", timeout=120)
    assert done.returncode == 0, done.stderr
    problem = work_task("DecoratedFlow").data.problem
    assert "SIGKILL" in problem.message


def test_resources_limit_how_many_tasks_run_at_once(home: Home):
    done = home.run_flow("resources_flow.py", "run", "--max-workers", "2")
    assert done.returncode == 0, done.stderr
    run = Flow("ResourcesFlow").latest_run
    assert run["work"].task.resources == {"cpu": 2, "memory": 64, "gpu": 0}
    assert run["start"].task.resources == {"cpu": 1, "memory": 0, "gpu": 0}
    spans = run.data.spans
    # Each task takes both CPUs, so no two may overlap.
    for (_, first_end), (second_start, _) in itertools.pairwise(spans):
        assert second_start >= first_end - 0.01


def test_resources_beyond_the_executor_are_refused_before_running(home: Home):
    done = home.run_flow("resources_flow.py", "run", "--max-workers", "1")
    assert done.returncode == 2
    assert "step 'work' asks for cpu=2" in done.stderr and "--max-workers" in done.stderr


def test_memory_requests_count_against_max_memory(home: Home):
    done = home.run_flow("resources_flow.py", "run", "--max-workers", "4", "--max-memory", "32")
    assert done.returncode == 2
    assert "memory=64 MB" in done.stderr


def test_catch_on_a_foreach_step_is_a_lint_error():
    class Bad(FlowSpec):
        @step
        def start(self):
            self.next(self.fan)

        @catch
        @step
        def fan(self):
            self.items = [1]
            self.next(self.each, foreach="items")

        @step
        def each(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass

    with pytest.raises(FlowLintErrors, match="@catch cannot be used on a step that starts"):
        lint(FlowGraph(Bad))


def test_the_same_decorator_twice_is_refused():
    with pytest.raises(FlowDefinitionError, match="@retry is applied twice"):

        @retry
        @retry(times=2)
        def work(self):
            pass


def test_decorators_compose_in_any_order_around_step():
    class Either(FlowSpec):
        @retry(times=2)
        @step
        @timeout(seconds=5)
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    definition = FlowGraph(Either)["start"].definition
    assert definition.decorator(retry).times == 2
    assert definition.decorator(timeout).total_seconds == 5


def test_bad_decorator_arguments_are_refused():
    with pytest.raises(ValueError, match="positive duration"):
        timeout()
    with pytest.raises(ValueError, match="times >= 0"):
        retry(times=-1)
