"""Step decorators alone and combined, on real runs."""

from __future__ import annotations

import itertools
import json
import socket

import pytest

from shipyard import Flow, FlowSpec, StepFailure, catch, retry, step, timeout
from shipyard.exceptions import FlowDefinitionError, FlowLintErrors, ObjectNotFound
from shipyard.flow.graph import FlowGraph
from shipyard.flow.lint import lint
from shipyard.metadata.records import TaskStatus

from ..conftest import Home
from .flows.hooked_flow import HookedFlow

#: The local executor must behave alike whichever way it starts tasks.
pytestmark = pytest.mark.usefixtures("each_start_method")


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
    done = home.run_flow("resources_flow.py", "run", "--max-workers", "1", "--strict-resources")
    assert done.returncode == 2
    assert "step 'work' asks for cpu=2" in done.stderr and "--max-workers" in done.stderr


def test_memory_requests_count_against_max_memory(home: Home):
    done = home.run_flow(
        "resources_flow.py", "run", "--max-workers", "4", "--max-memory", "32", "--strict-resources"
    )
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


# -- lifecycle hooks of a decorator written by the user ----------------------------------------
def hook_log(home: Home) -> list[dict]:
    path = home.root / "hooks.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def with_hook_log(home: Home) -> Home:
    return Home(home.root, {**home.env, "SHIPYARD_TEST_HOOK_LOG": str(home.root / "hooks.jsonl")})


def test_a_custom_decorators_hooks_run_in_order_with_their_context(home: Home):
    done = with_hook_log(home).run_flow("hooked_flow.py", "run")
    assert done.returncode == 0, done.stderr
    calls = hook_log(home)
    # Before the run starts: the step's request as known before any task (checked for fit),
    # and the flow decorator's before_run.
    first_task = next(
        i
        for i, c in enumerate(calls)
        if c.get("task") or c["hook"] not in ("before_launch", "before_run")
    )
    before = calls[:first_task]
    assert {c["hook"] for c in before} == {"before_launch", "before_run"}
    assert {(c.get("task"), c.get("attempt")) for c in before if c["hook"] == "before_launch"} == {
        (None, 0)
    }
    runner = next(c["pid"] for c in before if c["hook"] == "before_run")
    per_task = [
        (c["hook"], c["attempt"], c.get("outcome") or c.get("error") or c.get("failure"))
        for c in calls[first_task:]
    ]
    assert per_task == [
        ("before_launch", 0, None),
        ("before_step", 0, None),
        ("after_step", 0, "ValueError"),
        ("on_failure", 0, "ValueError"),
        ("after_task", 0, "retrying"),
        ("before_launch", 1, None),
        ("before_step", 1, None),
        ("after_step", 1, None),
        ("after_task", 1, "succeeded"),
    ]
    scheduler_side = {"before_run", "before_launch", "on_failure", "after_task"}
    assert {c["pid"] == runner for c in calls if c["hook"] in scheduler_side} == {True}
    assert {c["pid"] != runner for c in calls if c["hook"].endswith("_step")} == {True}
    run = Flow("HookedFlow").latest_run
    last = calls[-1]
    assert last["pathspec"] == run["work"].task.pathspec and last["value"] == "worked"
    # The launch hook asked for more memory on the retry; the attempt recorded it.
    assert run["work"].task.resources == {"cpu": 1, "memory": 64, "gpu": 0}


def test_a_flow_decorators_before_run_hook_may_tag_the_run(home: Home):
    assert [type(d).__name__ for d in HookedFlow.flow_decorators()] == ["run_tag"]
    done = with_hook_log(home).run_flow("hooked_flow.py", "run", "--tag", "mine")
    assert done.returncode == 0, done.stderr
    before_run = next(c for c in hook_log(home) if c["hook"] == "before_run")
    assert before_run["flow"] == "HookedFlow" and before_run["user"] == "tester"
    assert before_run["tags"] == ["mine"]
    assert {"mine", "hooked"} <= Flow("HookedFlow").latest_run.tags


def test_an_attempt_whose_launch_hook_asks_for_more_than_the_executor_has_fails(home: Home):
    done = with_hook_log(home).run_flow(
        "hooked_flow.py", "run", "--max-memory", "32", "--strict-resources"
    )
    assert done.returncode == 1
    assert "ResourcesUnavailable: step 'work' asks for cpu=1, memory=64 MB" in done.stderr
    attempts = work_task("HookedFlow").attempts
    assert [a.status for a in attempts] == [TaskStatus.FAILED, TaskStatus.FAILED]


# -- --with: step decorators on every step from the command line ---------------------------------
def test_with_retry_makes_a_flaky_step_succeed(home: Home):
    done = home.run_flow("flaky_flow.py", "run", "--with", "retry")
    assert done.returncode == 0, done.stderr
    task = work_task("FlakyFlow")
    assert task.data.value == 1
    assert [a.status for a in task.attempts] == [TaskStatus.FAILED, TaskStatus.SUCCEEDED]
    assert task.logs("stdout", attempt=0).strip() == "attempt 0"


def test_with_catch_stores_the_error_in_the_named_artifact(home: Home):
    done = home.run_flow(
        "flaky_flow.py",
        "run",
        "--failures",
        "9",
        "--with",
        "catch:var=err",
        "--with",
        "retry:times=1",
    )
    assert done.returncode == 0, done.stderr
    run = Flow("FlakyFlow").latest_run
    err = run["work"].task.data.err
    assert isinstance(err, StepFailure) and err.message == "attempt 1 fails"
    assert len(run["work"].task.attempts) == 2
    assert run["start"].task.data.err is None  # set by catch on every step


def test_a_step_keeps_its_own_decorator_over_one_given_with(home: Home):
    done = home.run_flow("retry_only_flow.py", "run", "--with", "retry:times=0")
    assert done.returncode == 0, done.stderr
    assert len(work_task("RetryOnlyFlow").attempts) == 2  # its own @retry(times=1)


def test_with_a_decorator_the_flow_file_registered(home: Home):
    done = with_hook_log(home).run_flow("hooked_flow.py", "run", "--with", "audited:retry_memory=8")
    assert done.returncode == 0, done.stderr
    steps = {c["step"] for c in hook_log(home) if c["hook"] == "before_step"}
    assert steps == {"start", "work", "end"}
    run = Flow("HookedFlow").latest_run
    assert run["work"].task.resources["memory"] == 64  # its own @audited, not --with's


def test_resume_takes_with_too(home: Home):
    assert home.run_flow("flaky_flow.py", "run").returncode == 1
    done = home.run_flow("flaky_flow.py", "resume", "--with", "retry")
    assert done.returncode == 0, done.stderr
    assert work_task("FlakyFlow").data.value == 1


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("retyr", "unknown step decorator 'retyr'; choose one of: catch, environment,"),
        ("retry:tims=2", "@retry has no argument 'tims'; it takes: minutes_between_retries, times"),
        ("retry:times=two", "times takes a int value, got 'two'"),
        ("timeout", "@timeout needs a positive duration"),
    ],
)
def test_with_an_unknown_decorator_or_argument_is_refused_before_anything_runs(
    home: Home, given: str, expected: str
):
    done = home.run_flow("flaky_flow.py", "run", "--with", given)
    assert done.returncode == 2
    assert expected in done.stderr
    with pytest.raises(ObjectNotFound):
        Flow("FlakyFlow")


def test_with_catch_is_refused_on_a_flow_with_a_foreach_as_in_metaflow(home: Home):
    done = home.run_flow("foreach_flow.py", "run", "--with", "catch")
    assert done.returncode == 2
    assert "@catch cannot be used on a step that starts a foreach" in done.stderr
    assert "`--with catch` attaches to every step" in done.stderr
