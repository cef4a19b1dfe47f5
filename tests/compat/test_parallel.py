"""Metaflow's `@parallel`: a gang of tasks started together that can rendezvous."""

from __future__ import annotations

import pytest

from shipyard import Flow, FlowSpec, parallel, step
from shipyard.exceptions import FlowLintErrors
from shipyard.flow.graph import FlowGraph
from shipyard.flow.lint import lint

from ..conftest import Home
from .test_metaflow_compat import SOURCES, ported


def test_a_gang_rendezvous_with_torch_distributed_and_is_joined(home: Home):
    # Three tasks on a machine whose tests may have two CPUs: a local gang starts whole.
    done = home.run_flow(ported(SOURCES / "mf_parallel.py", home.root), "run", "--max-workers", "2")
    assert done.returncode == 0, done.stderr
    assert "@parallel gang of 3" not in done.stderr  # the size came from a parameter
    run = Flow("GangFlow").latest_run
    assert run.data.ranks == [0, 1, 2]
    assert run.data.totals == [0 + 1 + 2]  # every node saw the all-reduced sum
    assert run.data.main_ips == ["127.0.0.1"]
    assert run.data.env_ranks == ["0", "1", "2"]
    train = sorted(run["train"], key=lambda task: int(task.id))
    assert run.data.controls == [train[0].id]


def test_a_failed_member_stops_its_mates_instead_of_leaving_them_waiting(home: Home):
    done = home.run_flow("gang_flow.py", "run", "--fail_node", "1", timeout=60)
    assert done.returncode == 1
    assert "RuntimeError: node 1 fails" in done.stderr
    assert "GangStopped: stopped because GangFlow/1/meet/3, of the same @parallel gang" in (
        done.stderr
    )


def test_num_parallel_and_parallel_go_together():
    class Unmarked(FlowSpec):
        @step
        def start(self):
            self.next(self.train, num_parallel=2)

        @step
        def train(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass

    class NotStarted(FlowSpec):
        @step
        def start(self):
            self.next(self.train)

        @parallel
        @step
        def train(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    for flow_class, expected in [
        (Unmarked, "'start' starts the step with num_parallel but it is not @parallel"),
        (NotStarted, "a @parallel step must be started with num_parallel"),
    ]:
        with pytest.raises(FlowLintErrors) as info:
            lint(FlowGraph(flow_class))
        assert expected in [error.message for error in info.value.errors]
