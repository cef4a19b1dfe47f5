"""Metaflow 2.19's conditional transitions: `self.next({value: self.step}, condition=...)`."""

from __future__ import annotations

import pytest

from shipyard import Flow, FlowSpec, catch, step
from shipyard.exceptions import FlowLintErrors
from shipyard.flow.graph import FlowGraph, NodeKind
from shipyard.flow.lint import lint

from ..conftest import Home
from .test_metaflow_compat import SOURCES, ported


def lint_messages(flow_class: type) -> list[str]:
    with pytest.raises(FlowLintErrors) as info:
        lint(FlowGraph(flow_class))
    return [error.message for error in info.value.errors]


def test_only_the_chosen_branch_runs_and_a_resume_takes_it_again(home: Home):
    flow = ported(SOURCES / "mf_conditional.py", home.root)
    done = home.run_flow(flow, "run")
    assert done.returncode == 0, done.stderr
    run = Flow("ModelGateFlow").latest_run
    # The step not taken has no task; inside the foreach each element took its own branch.
    # (`full` and `lite` run side by side, so their order is the order they started in.)
    assert {s.id for s in run} == {
        "start", "promote", "publish", "per_region", "full", "lite", "gather", "end"
    }  # fmt: skip
    assert run.data.outcome == "promoted"
    assert run.data.results == ["eu:full", "us:lite"]
    assert [t.data.region for t in run["full"]] == ["eu"]

    again = home.run_flow(flow, "resume", run.id, "--step", "publish")
    assert again.returncode == 0, again.stderr
    assert f"promote/2 reused from ModelGateFlow/{run.id}/promote/2" in again.stdout
    resumed = Flow("ModelGateFlow").latest_run
    assert "retrain" not in [s.id for s in resumed]
    assert resumed.data.outcome == "promoted"


def test_a_condition_value_without_a_branch_fails_naming_the_known_values(home: Home):
    flow = ported(SOURCES / "mf_conditional.py", home.root)
    done = home.run_flow(flow, "run", "--accuracy", "-1")
    assert done.returncode == 1
    assert (
        "step 'start' chooses its next step by 'decision', which is 'unknown'; the transition "
        "knows only 'retrain', 'promote'"
    ) in done.stderr


def test_show_lists_each_value_and_its_step(home: Home):
    done = home.run_flow(ported(SOURCES / "mf_conditional.py", home.root), "show")
    assert done.returncode == 0, done.stderr
    assert "start  ⑂ one of: 'retrain' → retrain, 'promote' → promote (by decision)" in done.stdout
    dot = home.run_flow(ported(SOURCES / "mf_conditional.py", home.root), "output-dot")
    assert '"start" -> "promote" [label="decision = \'promote\'"];' in dot.stdout


def test_branches_may_meet_at_end_or_at_a_step_without_inputs():
    class SkipFlow(FlowSpec):
        @step
        def start(self):
            self.flag = "skip"
            self.next({"work": self.work, "skip": self.end}, condition="flag")

        @step
        def work(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    graph = FlowGraph(SkipFlow)
    lint(graph)
    assert graph["start"].kind is NodeKind.SWITCH
    assert graph["start"].cases == {"work": "work", "skip": "end"}
    assert graph.convergence("start") == "end"


def test_branches_that_leave_a_foreach_at_different_places_are_refused():
    class Escapes(FlowSpec):
        @step
        def start(self):
            self.items = [1, 2]
            self.next(self.choose, foreach="items")

        @step
        def choose(self):
            self.flag = "a"
            self.next({"a": self.a, "b": self.end}, condition="flag")

        @step
        def a(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass

    assert any("different branches" in message for message in lint_messages(Escapes))


def test_malformed_conditions_and_catch_on_a_condition_are_refused():
    class Malformed(FlowSpec):
        @catch
        @step
        def start(self):
            self.flag = "a"
            self.next({"a": self.a, "b": self.end}, condition="flag")

        @step
        def a(self):
            name = "flag"
            self.next({"x": self.end, "y": self.end}, condition=name)

        @step
        def end(self):
            pass

    messages = lint_messages(Malformed)
    assert "@catch cannot be used on a step with a conditional transition" in messages
    assert any("condition= takes the name of an artifact" in m for m in messages)
