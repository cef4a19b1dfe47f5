"""A Ray node lost in the middle of a task, on a real cluster of two nodes on this machine.

The node's raylet and everything it started are SIGKILLed while a task runs there. That task
fails with a cause naming the node, what it printed before is kept (the other node, which
sees the same files, hands it over), and the rest of the run goes on and ends without
waiting for Ray to notice that the node is gone.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard import Flow, StepFailure

from ..conftest import FLOWS, Home
from ..ray_cluster import RayCluster, RayNode, ray_head, ray_node

pytestmark = [pytest.mark.service, pytest.mark.slow]

#: Ray's GCS declares a node dead after this many failed health checks, one a second: 20 s,
#: shorter than a salvage's 30 s deadline and far longer than the rest of the run needs. A run
#: that waits for Ray to notice (or for a lost node to answer) ends after Ray knows, which the
#: listing `end` records shows.
RAY_SETTINGS = {
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_failure_threshold": "20",
}
#: Generous bounds on a loaded machine; past them the test fails, it never skips.
START_SECONDS = 90
RUN_SECONDS = 120


@pytest.fixture
def two_nodes() -> Iterator[tuple[RayCluster, RayNode]]:
    with (
        ray_head(num_cpus=2, ray_env=RAY_SETTINGS) as cluster,
        ray_node(cluster, num_cpus=1, num_gpus=1) as node,
    ):
        yield cluster, node


def wait_for_file(path: Path, run: subprocess.Popen[str]) -> str:
    """The content of `path` once a step has created it; fails if the run ends first."""
    deadline = time.monotonic() + START_SECONDS
    while not path.exists():
        if run.poll() is not None:
            out, err = run.communicate()
            pytest.fail(f"the run ended before {path.name} started:\n{out}{err}")
        if time.monotonic() > deadline:
            pytest.fail(f"{path.name} did not start within {START_SECONDS}s")
        time.sleep(0.05)
    return path.read_text()


def test_a_node_lost_mid_task_fails_that_task_alone_and_keeps_its_output(
    home: Home, two_nodes: tuple[RayCluster, RayNode]
):
    cluster, node = two_nodes
    signals = home.root / "signals"
    signals.mkdir()
    command = [sys.executable, str(FLOWS / "node_loss_flow.py"), "run", "--signals", str(signals)]
    env = {
        **home.env,
        **cluster.env,
        "SHIPYARD_EXECUTOR": "ray",
        "SHIPYARD_RAY_ADDRESS": cluster.address,
    }
    with subprocess.Popen(
        command, env=env, cwd=home.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as run:
        try:
            lost_node = wait_for_file(signals / "doomed", run)
            node.kill()
            killed_at = time.monotonic()
            (signals / "killed").touch()
            out, err = run.communicate(timeout=RUN_SECONDS)
        except subprocess.TimeoutExpired:
            run.kill()
            out, err = run.communicate()
            pytest.fail(f"the run did not end within {RUN_SECONDS}s of the kill:\n{out}{err}")
        finally:
            if run.poll() is None:
                run.kill()
    took = time.monotonic() - killed_at

    assert run.returncode == 0, out + err
    result = Flow("NodeLossFlow").latest_run
    # The parallel branch ran on the live node and the run went on to its end...
    assert result.data.steady_node != lost_node
    # ...while Ray still listed the lost node as alive: nothing waited for Ray to notice.
    assert lost_node in result.data.listed_alive, f"the run took {took:.1f}s after the kill"
    doomed = result["doomed"].task
    problem = doomed.data.problem
    assert isinstance(problem, StepFailure)
    # Named by its id and address (Ray gives a node on 127.0.0.1 the machine's own address).
    assert re.match(rf"the Ray node {lost_node} at \S+ running the task died", problem.message)
    # What the task printed before its node was lost is kept.
    assert doomed.logs("stdout", attempt=0).strip() == "doomed started"
    print(f"the run ended {took:.1f}s after the node was killed")
