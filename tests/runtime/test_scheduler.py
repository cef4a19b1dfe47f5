"""The scheduler driven directly: the inline executor, a temporary datastore, a real SQLite file.

Tasks run in this very process, one at a time, so flows are defined here and steps can
leave traces in module globals; the client reads back what the scheduler recorded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from shipyard import FlowSpec, Parameter, catch, current, retry, step
from shipyard.metadata.records import RunStatus, TaskStatus
from shipyard.runtime.spec import TaskResult, TaskSpec

# -- flows ---------------------------------------------------------------------------------------


class LinearFlow(FlowSpec):
    size = Parameter("size", default=3)

    @step
    def start(self):
        self.numbers = list(range(self.size))
        print("numbers made")
        self.next(self.middle)

    @step
    def middle(self):
        self.total = sum(self.numbers)
        self.pid = os.getpid()
        self.next(self.end)

    @step
    def end(self):
        self.doubled = 2 * self.total


class BranchFlow(FlowSpec):
    @step
    def start(self):
        self.shared = "everywhere"
        self.next(self.left, self.right)

    @step
    def left(self):
        self.side = "left"
        self.next(self.join)

    @step
    def right(self):
        self.side = "right"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.sides = sorted(i.side for i in inputs)
        self.merge_artifacts(inputs, exclude=["side"])
        self.next(self.end)

    @step
    def end(self):
        pass


class ForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.square, foreach="items")

    @step
    def square(self):
        self.squared = self.input**2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.squares = [i.squared for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


class NestedForeachFlow(FlowSpec):
    @step
    def start(self):
        self.letters = ["a", "b", "c"]
        self.next(self.outer, foreach="letters")

    @step
    def outer(self):
        self.letter = self.input
        self.numbers = list(range(self.index + 1))
        self.next(self.inner, foreach="numbers")

    @step
    def inner(self):
        self.label = f"{self.letter}{self.input}"
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.labels = [i.label for i in inputs]
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.all_labels = [label for i in inputs for label in i.labels]
        self.next(self.end)

    @step
    def end(self):
        pass


class RetryFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.work)

    @retry(times=2)
    @step
    def work(self):
        print(f"attempt {current.retry_count}")
        if current.retry_count < 2:
            raise ValueError(f"attempt {current.retry_count} fails")
        self.worked_on = current.retry_count
        self.next(self.end)

    @step
    def end(self):
        pass


class CatchFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.work)

    @catch(var="problem")
    @step
    def work(self):
        raise ValueError("bad input")
        self.next(self.end)

    @step
    def end(self):
        self.seen = self.problem


class FailingFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.left, self.right)

    @step
    def left(self):
        raise RuntimeError("left breaks")
        self.next(self.join)

    @step
    def right(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


#: What ResumableFlow does, set by the tests: the step that fails, and every task that ran.
BROKEN: dict[str, str | None] = {"step": None}
EXECUTED: list[tuple[str, str, str]] = []


class ResumableFlow(FlowSpec):
    @step
    def start(self):
        self.note()
        self.items = ["x", "y"]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.note()
        self.done = self.input.upper()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.note()
        self.all_done = [i.done for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        self.note()

    def note(self) -> None:
        EXECUTED.append((current.run_id, current.step_name, current.task_id))
        if BROKEN["step"] == current.step_name:
            raise RuntimeError(f"{current.step_name} is broken")


# -- running them --------------------------------------------------------------------------------


@dataclass
class Events:
    """A progress listener that keeps what it heard, in order."""

    heard: list[tuple[str, ...]] = field(default_factory=list)

    def task_queued(self, step_name: str) -> None:
        self.heard.append(("queued", step_name))

    def task_reused(self, step_name: str, task_id: str, origin: str) -> None:
        self.heard.append(("reused", step_name))

    def task_started(self, spec: TaskSpec) -> None:
        self.heard.append(("started", spec.step_name))

    def task_finished(self, spec: TaskSpec, result: TaskResult) -> None:
        self.heard.append(("finished", spec.step_name, result.outcome.value))


# -- the tests -----------------------------------------------------------------------------------


def test_a_linear_flow_passes_artifacts_along_in_this_process(scheduling):
    summary, run = scheduling.run(LinearFlow, {"size": 4})
    assert summary.status is RunStatus.SUCCEEDED and summary.tasks_run == 3
    assert run.successful
    assert run.data.doubled == 12 and run.data.size == 4
    assert run["middle"].task.data.pid == os.getpid()
    assert run["start"].task.stdout == "numbers made\n"


def test_a_branch_is_joined_with_merged_artifacts(scheduling):
    _, run = scheduling.run(BranchFlow)
    assert run.successful
    assert run.data.sides == ["left", "right"] and run.data.shared == "everywhere"


def test_a_foreach_fans_out_and_joins_in_order(scheduling):
    summary, run = scheduling.run(ForeachFlow)
    assert run.successful and summary.tasks_run == 1 + 3 + 1 + 1
    assert run.data.squares == [1, 4, 9]
    assert sorted(t.index for t in run["square"].tasks()) == [0, 1, 2]


def test_a_nested_foreach_joins_each_level(scheduling):
    _, run = scheduling.run(NestedForeachFlow)
    assert run.successful
    assert run.data.all_labels == ["a0", "b0", "b1", "c0", "c1", "c2"]
    assert len(run["inner"].tasks()) == 6 and len(run["inner_join"].tasks()) == 3


def test_a_failed_attempt_is_retried_until_it_succeeds(scheduling):
    _, run = scheduling.run(RetryFlow)
    assert run.successful
    task = run["work"].task
    assert task.data.worked_on == 2
    assert [a.status for a in task.attempts] == [
        TaskStatus.FAILED,
        TaskStatus.FAILED,
        TaskStatus.SUCCEEDED,
    ]
    assert task.logs(attempt=0) == "attempt 0\n" and task.logs(attempt=2) == "attempt 2\n"


def test_catch_stores_the_failure_and_the_run_goes_on(scheduling):
    _, run = scheduling.run(CatchFlow)
    assert run.successful
    assert run.data.seen.exception_type == "ValueError"
    assert run.data.seen.message == "bad input"


def test_a_failing_step_fails_the_run_and_nothing_after_it_starts(scheduling):
    summary, run = scheduling.run(FailingFlow)
    assert summary.status is RunStatus.FAILED and run.status is RunStatus.FAILED
    [(spec, result)] = summary.failures
    assert spec.step_name == "left"
    assert result.error.endswith("RuntimeError: left breaks\n")
    assert "raise RuntimeError" in result.error  # the user's frame, with its source line
    assert "join" not in run and "end" not in run
    assert run["left"].task.status is TaskStatus.FAILED


def test_resume_reuses_what_succeeded_and_runs_the_rest(scheduling):
    EXECUTED.clear()
    BROKEN["step"] = "join"
    try:
        _, origin = scheduling.run(ResumableFlow)
    finally:
        BROKEN["step"] = None
    assert origin.status is RunStatus.FAILED
    events = Events()
    _, run = scheduling.run(ResumableFlow, listener=events, resume=origin)
    assert run.successful and run.origin_run_id == origin.id
    assert [(s, t) for r, s, t in EXECUTED if r == run.id] == [
        ("join", run["join"].task.id),
        ("end", run["end"].task.id),
    ]
    assert run.data.all_done == ["X", "Y"]
    assert run["start"].task.origin_pathspec == origin["start"].task.pathspec
    assert [e for e in events.heard if e[0] == "reused"] == [
        ("reused", "start"),
        ("reused", "work"),
        ("reused", "work"),
    ]


def test_the_listener_hears_every_task_in_order(scheduling):
    events = Events()
    scheduling.run(RetryFlow, listener=events)
    assert events.heard == [
        ("queued", "start"),
        ("started", "start"),
        ("finished", "start", "succeeded"),
        ("queued", "work"),
        ("started", "work"),
        ("finished", "work", "failed"),
        ("started", "work"),
        ("finished", "work", "failed"),
        ("started", "work"),
        ("finished", "work", "succeeded"),
        ("queued", "end"),
        ("started", "end"),
        ("finished", "end", "succeeded"),
    ]
