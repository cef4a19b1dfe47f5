"""Each lint rule rejects its mistake before anything runs, naming file, line, step and a fix."""

from __future__ import annotations

import inspect

import pytest

from shipyard import FlowSpec, retry, step
from shipyard.exceptions import FlowLintErrors
from shipyard.flow.graph import FlowGraph, NodeKind
from shipyard.flow.lint import lint


def lint_errors(flow_class: type) -> list:
    with pytest.raises(FlowLintErrors) as info:
        lint(FlowGraph(flow_class))
    return info.value.errors


def only_error(flow_class: type):
    errors = lint_errors(flow_class)
    assert len(errors) == 1, [e.render() for e in errors]
    return errors[0]


def test_valid_flow_with_branch_foreach_and_nested_foreach_passes():
    class Good(FlowSpec):
        @step
        def start(self):
            self.next(self.a, self.b)

        @step
        def a(self):
            self.next(self.join)

        @step
        def b(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.items = [1, 2]
            self.next(self.outer, foreach="items")

        @step
        def outer(self):
            self.inner_items = [1, 2]
            self.next(self.inner, foreach="inner_items")

        @step
        def inner(self):
            self.next(self.inner_join)

        @step
        def inner_join(self, inputs):
            self.next(self.outer_join)

        @step
        def outer_join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass

    graph = FlowGraph(Good)
    lint(graph)
    assert graph["start"].kind is NodeKind.BRANCH
    assert graph["join"].kind is NodeKind.FOREACH
    assert graph.closed_split("inner_join") == "outer"
    assert graph.closed_split("outer_join") == "join"
    assert graph["inner"].split_parents == ["join", "outer"]


def test_missing_start_is_reported():
    class NoStart(FlowSpec):
        @step
        def end(self):
            pass

    error = only_error(NoStart)
    assert "no 'start' step" in error.message
    assert error.file.endswith("test_lint.py")
    assert "def start(self)" in error.hint


def test_missing_end_is_reported_with_the_dangling_step():
    class NoEnd(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

    messages = [e.message for e in lint_errors(NoEnd)]
    assert any("no 'end' step" in m for m in messages)
    assert any("'end', which is not a step" in m for m in messages)


def test_unknown_step_name_points_at_the_next_call_line():
    class Typo(FlowSpec):
        @step
        def start(self):
            self.next(self.trian)

        @step
        def end(self):
            pass

    errors = lint_errors(Typo)
    typo = next(e for e in errors if "trian" in e.message)
    assert typo.step == "start"
    assert typo.line == Typo.start.__code__.co_firstlineno + 2
    assert "define `trian`" in typo.hint


def test_step_that_never_calls_next_is_rejected():
    class Forgot(FlowSpec):
        @step
        def start(self):
            self.x = 1

        @step
        def end(self):
            pass

    errors = lint_errors(Forgot)
    assert any(e.step == "start" and "never calls self.next" in e.message for e in errors)


def test_next_must_be_the_last_statement():
    class NotLast(FlowSpec):
        @step
        def start(self):
            self.next(self.end)
            self.x = 1

        @step
        def end(self):
            pass

    error = only_error(NotLast)
    assert "last statement" in error.message
    assert error.line == NotLast.start.__code__.co_firstlineno + 2


def test_next_called_twice_is_rejected():
    class Twice(FlowSpec):
        @step
        def start(self):
            if self:
                self.next(self.end)
            self.next(self.end)

        @step
        def end(self):
            pass

    error = only_error(Twice)
    assert "called 2 times" in error.message


def test_unreachable_step_is_reported():
    class Orphan(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def orphan(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    error = only_error(Orphan)
    assert error.step == "orphan"
    assert "never reached" in error.message


def test_cycle_is_reported():
    class Loop(FlowSpec):
        @step
        def start(self):
            self.next(self.a)

        @step
        def a(self):
            self.next(self.b)

        @step
        def b(self):
            self.next(self.a)

        @step
        def end(self):
            pass

    messages = [e.message for e in lint_errors(Loop)]
    assert any("cycle: a -> b -> a" in m for m in messages)


def test_branch_must_be_closed_by_a_join():
    class Unjoined(FlowSpec):
        @step
        def start(self):
            self.next(self.a, self.b)

        @step
        def a(self):
            self.next(self.end)

        @step
        def b(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    messages = [e.message for e in lint_errors(Unjoined)]
    assert any("does not take inputs" in m for m in messages)


def test_foreach_must_be_closed_by_a_join():
    class Unjoined(FlowSpec):
        @step
        def start(self):
            self.items = [1]
            self.next(self.a, foreach="items")

        @step
        def a(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    error = only_error(Unjoined)
    assert error.step == "start"
    assert "never joined" in error.message


def test_join_without_a_split_is_rejected():
    class Pointless(FlowSpec):
        @step
        def start(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass

    error = only_error(Pointless)
    assert error.step == "join"
    assert "no branch or foreach to join" in error.message


def test_join_must_receive_every_branch():
    class Partial(FlowSpec):
        @step
        def start(self):
            self.next(self.a, self.b)

        @step
        def a(self):
            self.next(self.join)

        @step
        def b(self):
            self.next(self.c)

        @step
        def c(self, inputs):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass

    messages = [e.message for e in lint_errors(Partial)]
    assert any("no branch or foreach to join" in m or "different branches" in m for m in messages)


def test_foreach_with_two_targets_is_rejected():
    class Wide(FlowSpec):
        @step
        def start(self):
            self.items = [1]
            self.next(self.a, self.b, foreach="items")

        @step
        def a(self):
            self.next(self.join)

        @step
        def b(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass

    messages = [e.message for e in lint_errors(Wide)]
    assert any("exactly one step" in m for m in messages)


def test_foreach_name_must_be_a_string_literal():
    class Dynamic(FlowSpec):
        @step
        def start(self):
            name = "items"
            self.items = [1]
            self.next(self.a, foreach=name)

        @step
        def a(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass

    messages = [e.message for e in lint_errors(Dynamic)]
    assert any("string literal" in m for m in messages)


def test_all_problems_are_reported_at_once_with_locations():
    class Messy(FlowSpec):
        @step
        def start(self):
            self.next(self.nowhere)

        @step
        def lonely(self):
            pass

        @step
        def end(self):
            self.next(self.start)

    errors = lint_errors(Messy)
    assert len(errors) >= 3
    rendered = str(FlowLintErrors(errors))
    assert "test_lint.py:" in rendered
    assert "hint:" in rendered


def test_errors_point_at_the_def_line_below_the_decorators():
    class Decorated(FlowSpec):
        @retry(times=2)
        @step
        def start(self):
            self.x = 1

        @step
        def end(self):
            pass

    error = only_error(Decorated)
    source, first = inspect.getsourcelines(Decorated.start)
    assert source[error.line - first].strip() == "def start(self):"


def test_a_step_missing_next_is_one_error_not_also_unreachable_end():
    class Forgot(FlowSpec):
        @step
        def start(self):
            self.x = 1

        @step
        def end(self):
            pass

    error = only_error(Forgot)
    assert (error.step, error.message) == ("start", "the step never calls self.next()")


def test_a_branch_missing_next_is_one_error_not_also_a_short_join():
    class ForgotInBranch(FlowSpec):
        @step
        def start(self):
            self.next(self.a, self.b)

        @step
        def a(self):
            self.x = 1

        @step
        def b(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass

    error = only_error(ForgotInBranch)
    assert (error.step, error.message) == ("a", "the step never calls self.next()")


def test_a_cycle_is_one_error_not_also_unreachable_end():
    class Loop(FlowSpec):
        @step
        def start(self):
            self.next(self.a)

        @step
        def a(self):
            self.next(self.start)

        @step
        def end(self):
            pass

    assert "cycle: start -> a -> start" in only_error(Loop).message


def test_an_orphan_missing_next_is_still_reported_as_unreachable():
    class Orphan(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def orphan(self):
            self.x = 1

        @step
        def end(self):
            pass

    errors = lint_errors(Orphan)
    assert sorted((e.step, e.message) for e in errors) == [
        ("orphan", "the step is never reached from 'start'"),
        ("orphan", "the step never calls self.next()"),
    ]
