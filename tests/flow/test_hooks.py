"""The decorator lifecycle: hook order, failure decisions, flow decorators and `--with` specs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest

from shipyard import FlowSpec, catch, environment, resources, retry, step, timeout
from shipyard.exceptions import DecoratorSpecError, FlowDefinitionError, FlowLintErrors
from shipyard.flow.decorator_specs import graph_with, parse_decorator_spec
from shipyard.flow.decorators import KILL_GRACE_SECONDS
from shipyard.flow.flow_decorators import FlowDecorator
from shipyard.flow.hooks import (
    CatchFailure,
    FailureContext,
    GiveUp,
    LaunchContext,
    RetryTask,
    StepContext,
    StepDecorator,
    StepFailure,
    StepHooks,
    run_step,
)


def failed(attempt: int, error: str = "ValueError: bad\n") -> FailureContext:
    return FailureContext("F", "1", "work", "7", attempt, error, exit_code=None)


# -- failure decisions ---------------------------------------------------------------------------
def test_retries_come_before_the_catch_whatever_the_order_they_were_applied():
    hooks = StepHooks(
        "F", "work", [catch(var="problem"), retry(times=2, minutes_between_retries=1)]
    )
    assert hooks.decide(failed(0)) == RetryTask(delay_seconds=60)
    assert hooks.decide(failed(1)) == RetryTask(delay_seconds=60)
    assert hooks.decide(failed(2)) == CatchFailure("problem")


def test_without_a_decision_the_task_gives_up():
    assert StepHooks("F", "work", [timeout(seconds=1)]).decide(failed(0)) == GiveUp()
    assert StepHooks("F", "work", [retry(times=1)]).decide(failed(1)) == GiveUp()


@dataclass
class patient(StepDecorator):
    seconds: float = 1
    name: ClassVar[str] = "patient"

    def on_failure(self, context: FailureContext) -> RetryTask:
        return RetryTask(self.seconds)


@dataclass
class hopeless(StepDecorator):
    name: ClassVar[str] = "hopeless"

    def on_failure(self, context: FailureContext) -> GiveUp:
        return GiveUp()


def test_among_decisions_of_one_kind_the_first_applied_wins():
    hooks = StepHooks("F", "work", [hopeless(), patient(seconds=5), retry(times=1)])
    assert hooks.decide(failed(0)) == RetryTask(5)


def test_the_failure_is_read_from_the_last_line_of_the_error():
    assert failed(0, "Traceback ...\n  line\nValueError: bad input\n").failure == StepFailure(
        "ValueError", "bad input", "Traceback ...\n  line\nValueError: bad input\n"
    )
    crashed = failed(0, "the task process exited with code 5").failure
    assert (crashed.exception_type, crashed.message) == (
        "TaskFailed",
        "the task process exited with code 5",
    )


# -- launch -------------------------------------------------------------------------------------
@dataclass
class fresh(StepDecorator):
    name: ClassVar[str] = "fresh"

    def before_launch(self, context: LaunchContext) -> None:
        context.fresh_interpreter = True
        context.memory += 100 * context.attempt


def test_launch_hooks_change_how_each_attempt_is_launched_in_the_order_applied():
    hooks = StepHooks("F", "work", [resources(cpu=2, memory=50), timeout(seconds=10), fresh()])
    planned = hooks.launch()
    assert (planned.task_id, planned.attempt) == (None, 0)
    assert (planned.cpu, planned.memory, planned.gpu) == (2, 50, 0)
    assert planned.kill_after_seconds == 10 + KILL_GRACE_SECONDS
    assert planned.fresh_interpreter
    assert hooks.launch(attempt=2, task_id="7").memory == 250


def test_an_undecorated_step_has_no_scheduler_side_hooks_to_call():
    hooks = StepHooks("F", "work", [environment(vars={"A": "1"}), catch()])
    assert hooks.before_launch == () and hooks.after_task == ()
    assert len(hooks.on_failure) == 1
    launch = hooks.launch()
    assert (launch.cpu, launch.memory, launch.kill_after_seconds) == (1, 0, None)


# -- in the task --------------------------------------------------------------------------------
@dataclass
class noted(StepDecorator):
    label: str = ""
    fail_before: bool = False
    name: ClassVar[str] = "noted"

    def before_step(self, context: StepContext) -> None:
        context.flow.append(f"before {self.label}")
        if self.fail_before:
            raise RuntimeError("refused")

    def after_step(self, context: StepContext) -> None:
        raised = type(context.exception).__name__ if context.exception else "-"
        context.flow.append(f"after {self.label} {raised}")


def test_before_step_hooks_run_in_order_and_after_step_in_reverse_even_when_the_step_raises():
    calls: list[str] = []

    def body() -> None:
        calls.append("step")
        raise KeyError("x")

    context = StepContext("work", 0, calls)
    with pytest.raises(KeyError):
        run_step([noted("a"), noted("b")], context, body)
    assert calls == ["before a", "before b", "step", "after b KeyError", "after a KeyError"]


def test_a_failing_before_step_unwinds_only_the_hooks_that_ran():
    calls: list[str] = []
    with pytest.raises(RuntimeError):
        run_step([noted("a"), noted("b", fail_before=True)], StepContext("w", 0, calls), list)
    assert calls == ["before a", "before b", "after a RuntimeError"]


# -- flow decorators ----------------------------------------------------------------------------
@dataclass
class project(FlowDecorator):
    name_: str = "demo"
    name: ClassVar[str] = "project"


@dataclass
class owner(FlowDecorator):
    team: str = "ml"
    name: ClassVar[str] = "owner"


class Minimal(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_flow_decorators_are_kept_on_the_class_in_the_order_applied():
    @owner(team="search")
    @project
    class Decorated(Minimal):
        pass

    assert Decorated.flow_decorators() == (project(), owner(team="search"))
    assert Minimal.flow_decorators() == ()

    @project(name_="other")
    class Sub(Decorated):
        pass

    assert Sub.flow_decorators() == (owner(team="search"), project(name_="other"))


def test_the_same_flow_decorator_twice_is_refused_pointing_at_the_class():
    with pytest.raises(FlowDefinitionError) as refused:

        @project
        @project(name_="x")
        class Twice(Minimal):
            pass

    assert "@project is applied twice to the flow Twice" in str(refused.value)
    assert refused.value.file == __file__ and refused.value.line is not None
    assert "keep one @project" in refused.value.hint


# -- --with specs -------------------------------------------------------------------------------
def test_with_specs_are_typed_by_the_decorators_fields():
    assert parse_decorator_spec("retry") == retry()
    assert parse_decorator_spec("retry:times=2,minutes_between_retries=0.5") == retry(2, 0.5)
    assert parse_decorator_spec("catch:var=err,print_exception=false") == catch("err", False)
    assert parse_decorator_spec("resources:cpu=2,memory=512") == resources(cpu=2, memory=512)
    assert parse_decorator_spec('environment:vars={"A": "1", "B": "2"}') == environment(
        vars={"A": "1", "B": "2"}
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nope", "unknown step decorator 'nope'; choose one of: .*catch, environment, resources"),
        ("retry:time=1", "@retry has no argument 'time'; it takes: minutes_between_retries, times"),
        ("retry:times", "give 'times' a value, as key=value"),
        ("retry:times=1.5", "times takes a int value, got '1.5'"),
        ("catch:print_exception=maybe", "print_exception takes a bool value"),
        ("environment:vars=[1]", "vars takes a JSON"),
        ("catch:var=not-a-name", "must name a valid artifact"),
    ],
)
def test_a_bad_with_spec_says_what_is_valid(spec: str, message: str):
    with pytest.raises(DecoratorSpecError, match=message.replace("[", r"\[")):
        parse_decorator_spec(spec)


class Plain(FlowSpec):
    @retry(times=5)
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_with_attaches_to_every_step_and_a_step_keeps_its_own_kind():
    graph = graph_with(Plain, ("retry:times=1", "timeout:seconds=30"))
    start, end = graph["start"].definition, graph["end"].definition
    assert start.decorator(retry) == retry(times=5)
    assert end.decorator(retry) == retry(times=1)
    assert start.decorator(timeout) == end.decorator(timeout) == timeout(seconds=30)
    assert graph_with(Plain, ("retry:times=1", "timeout:seconds=30")) is graph  # once per run
    assert Plain.graph()["end"].definition.decorator(retry) is None  # the class is untouched


def test_the_same_decorator_twice_with_with_is_refused():
    with pytest.raises(DecoratorSpecError, match="--with names retry more than once"):
        graph_with(Plain, ("retry", "retry:times=2"))


def test_with_catch_on_a_flow_with_a_foreach_is_a_lint_error_that_names_with():
    class Fan(FlowSpec):
        @step
        def start(self):
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

    with pytest.raises(FlowLintErrors) as refused:
        graph_with(Fan, ("catch:var=err",))
    (error,) = refused.value.errors
    assert error.step == "start" and "@catch cannot be used on a step that starts" in error.message
    assert "`--with catch:var=err` attaches to every step" in error.hint
