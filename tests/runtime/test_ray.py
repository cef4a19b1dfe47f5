"""The Ray executor on a real Ray cluster started on 127.0.0.1 (`ray start --head`, 2 CPUs).

The same flows as the local executor's tests run with `SHIPYARD_EXECUTOR=ray`: results,
logs, retries, timeouts, catch and resume must not differ.
"""

from __future__ import annotations

import itertools
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard import Flow, Runner, StepFailure
from shipyard.exceptions import ObjectNotFound, ShipyardError
from shipyard.metadata.records import TaskStatus
from shipyard.runtime.ray_executor import check_datastore_reachable

from ..conftest import FLOWS, Home
from ..ray_cluster import RayCluster, ray_head
from .test_resume import break_at, executed

pytestmark = [pytest.mark.service, pytest.mark.slow]


def ray_port_of(evidence: dict[str, str] | None) -> int | None:
    """The port of the Ray cluster whose worker ran a task as Shipyard's Ray task, from the
    evidence the task recorded (`flows/on_ray.py`); None when the task ran outside Ray.

    Ray reports the cluster by the node's own address rather than the 127.0.0.1 the tests
    give, so clusters are told apart by port (each test cluster gets a free one).
    """
    if evidence is None:
        return None
    assert evidence["function"].endswith("ray_executor.run_ray_task"), evidence
    assert evidence["task_id"], evidence
    return int(evidence["cluster"].rpartition(":")[2])


def test_without_an_address_a_local_ray_instance_is_started(home: Home):
    # A Ray temp dir of its own: `auto` must not find a cluster a developer left running.
    # (Short, under /tmp: Ray's socket paths live in it.)
    ray_tmp = tempfile.mkdtemp(prefix="sy-ray-", dir="/tmp")
    home.env.pop("RAY_ADDRESS", None)
    home.env["RAY_TMPDIR"] = ray_tmp
    try:
        done = home.run_flow("foreach_flow.py", "run", "--executor", "ray", "--max-workers", "2")
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "on a local Ray instance" in done.stdout
    run = Flow("ForeachFlow").latest_run
    assert run.data.all_labels == ["a0", "b0", "b1", "c0", "c1", "c2"]
    assert all(ray_port_of(task.data.ray_task) is not None for task in run["inner"])


@pytest.fixture(scope="module")
def cluster() -> Iterator[RayCluster]:
    with ray_head(num_cpus=2, num_gpus=1) as started:
        yield started


@pytest.fixture
def on_ray(home: Home, cluster: RayCluster) -> Home:
    """Runs go to the cluster through the configuration, as a user would set it once."""
    home.env.update(cluster.env)
    home.env.update({"SHIPYARD_EXECUTOR": "ray", "SHIPYARD_RAY_ADDRESS": cluster.address})
    return home


def test_a_foreach_of_200_tasks_runs_on_the_cluster_and_logs_are_kept(
    on_ray: Home, cluster: RayCluster
):
    done = on_ray.run_flow("ray_fanout_flow.py", "run", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "on the Ray cluster at 127.0.0.1:" in done.stdout
    run = Flow("RayFanoutFlow").latest_run
    assert run.data.squares == [i * i for i in range(200)]
    assert run.data.all_in_ray  # each task ran inside a Ray worker
    assert {ray_port_of(evidence) for evidence in run.data.ray_tasks} == {cluster.port}
    assert len(list(run["work"])) == 200
    task = next(t for t in run["work"] if t.data.square == 49)
    assert task.logs("stdout").strip() == "working on 7"


def test_a_step_can_use_ray_itself_on_the_same_cluster(on_ray: Home, cluster: RayCluster):
    done = on_ray.run_flow("ray_fanout_flow.py", "run", "--width", "4")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "/work/4] working on 2" in done.stdout  # what steps print is shown, as on local
    data = Flow("RayFanoutFlow").latest_run.data
    assert data.cubes == [x**3 for x in range(10)]
    assert {ray_port_of(evidence) for evidence in data.ray_tasks} == {cluster.port}


def test_branch_and_join(on_ray: Home, cluster: RayCluster):
    done = on_ray.run_flow("branch_flow.py", "run")
    assert done.returncode == 0, done.stdout + done.stderr
    data = Flow("BranchFlow").latest_run.data
    assert data.sides == ["left", "right"]
    assert data.from_left == "left"
    assert ray_port_of(data.ray_task) == cluster.port  # merged from the left branch


def test_a_failing_task_is_retried_with_each_attempt_recorded(on_ray: Home, cluster: RayCluster):
    done = on_ray.run_flow("retry_only_flow.py", "run")
    assert done.returncode == 0, done.stdout + done.stderr
    task = Flow("RetryOnlyFlow").latest_run["work"].task
    assert task.data.value == "second attempt worked"
    assert ray_port_of(task.data.ray_task) == cluster.port
    assert [(a.attempt, a.status) for a in task.attempts] == [
        (0, TaskStatus.FAILED),
        (1, TaskStatus.SUCCEEDED),
    ]
    assert task.logs("stdout", attempt=0).strip() == "attempt 0"
    assert "first attempt fails" in (task.attempts[0].error or "")
    assert {a.host for a in task.attempts} == {socket.gethostname()}  # the Ray node's


def test_a_failing_step_fails_the_run_with_the_users_traceback(on_ray: Home, cluster: RayCluster):
    done = on_ray.run_flow("failing_flow.py", "run")
    assert done.returncode == 1
    assert "Traceback" in done.stderr and "shipyard/runtime" not in done.stderr
    start = Flow("FailingFlow").latest_run["start"].task
    assert ray_port_of(start.data.ray_task) == cluster.port


def test_timeout_fails_a_task_that_runs_too_long(on_ray: Home, cluster: RayCluster):
    done = on_ray.run_flow("timeout_only_flow.py", "run")
    assert done.returncode == 1
    assert "exceeded its @timeout of 1s" in done.stderr
    start = Flow("TimeoutOnlyFlow").latest_run["start"].task
    assert ray_port_of(start.data.ray_task) == cluster.port


def test_catch_covers_a_worker_that_died(on_ray: Home):
    done = on_ray.run_flow("decorated_flow.py", "run", "--mode", "crash")
    assert done.returncode == 0, done.stdout + done.stderr
    task = Flow("DecoratedFlow").latest_run["work"].task
    assert isinstance(task.data.problem, StepFailure)
    assert "Ray worker running the task died" in task.data.problem.message  # said by Ray only
    # What the step printed before its worker died is kept, as with the local executor.
    assert task.logs("stdout", attempt=0).strip() == "attempt 0"


def test_a_step_that_ignores_its_timeout_is_killed(on_ray: Home):
    done = on_ray.run_flow("decorated_flow.py", "run", "--mode", "stuck", timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    task = Flow("DecoratedFlow").latest_run["work"].task
    # Only the Ray executor kills a task with these words (it cancels the Ray task).
    assert "ran past its @timeout and was killed" in task.data.problem.message
    assert len(task.attempts) == 3
    assert task.logs("stdout", attempt=2).strip() == "attempt 2"


def test_resume_of_a_run_that_failed_on_ray_reuses_what_finished(on_ray: Home, cluster: RayCluster):
    break_at(on_ray, "work")
    failed = on_ray.run_flow("resumable_flow.py", "run", "--base", "7")
    assert failed.returncode == 1
    origin = Flow("ResumableFlow").latest_run
    break_at(on_ray, None)
    resumed = on_ray.run_flow("resumable_flow.py", "resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    run = Flow("ResumableFlow").latest_run
    assert run.successful and run.origin_run_id == origin.id
    ran = executed(on_ray, run.id)
    assert {step for step, _ in ran} == {"work", "join", "end"}
    work = {t.data.value: t for t in run["work"]}
    assert sorted(work) == [7, 14, 21]
    assert work[7].origin_pathspec is not None  # finished before the failure: reused
    assert work[14].origin_pathspec is None and work[14].data.origin_seen == origin.id
    assert run.data.total == 42
    # Both the failed run (the reused task) and the resumed one ran on the cluster.
    ran_on = {ray_port_of(task.data.ray_task) for task in (work[7], work[14], run.end_task)}
    assert ran_on == {cluster.port}


def test_a_run_that_failed_locally_is_resumed_on_ray(home: Home, cluster: RayCluster):
    break_at(home, "join")
    assert home.run_flow("resumable_flow.py", "run", "--base", "2").returncode == 1
    origin = Flow("ResumableFlow").latest_run
    break_at(home, None)
    home.env.update(cluster.env)
    resumed = home.run_flow(
        "resumable_flow.py", "resume", "--executor", "ray", "--ray-address", cluster.address
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    run = Flow("ResumableFlow").latest_run
    assert run.origin_run_id == origin.id and run.data.total == 12
    assert {step for step, _ in executed(home, run.id)} == {"join", "end"}
    assert {ray_port_of(task.data.ray_task) for task in origin["work"]} == {None}
    assert ray_port_of(run.data.ray_task) == cluster.port


def test_a_task_waits_for_a_free_gpu(on_ray: Home, cluster: RayCluster):
    done = on_ray.run_flow("gpu_flow.py", "run")
    assert done.returncode == 0, done.stdout + done.stderr
    run = Flow("GpuFlow").latest_run
    assert run.data.devices == ["0", "0", "0"]  # Ray hands each task the one GPU
    for (_, first_end), (second_start, _) in itertools.pairwise(run.data.spans):
        assert second_start >= first_end - 0.01
    assert run["train"].task.resources == {"cpu": 1, "memory": 0, "gpu": 1}
    assert {ray_port_of(task.data.ray_task) for task in run["train"]} == {cluster.port}


def test_more_cpus_than_any_node_has_is_refused_before_running(on_ray: Home, cluster: RayCluster):
    done = on_ray.run_flow("greedy_flow.py", "run")
    assert done.returncode == 2
    assert "step 'crunch' asks for cpu=64" in done.stderr
    assert f"no node of the Ray cluster at {cluster.address} has that much" in done.stderr
    with pytest.raises(ObjectNotFound):  # nothing ran, nothing was recorded
        Flow("GreedyFlow")


def test_a_parallel_gang_is_placed_together_and_rendezvous(on_ray: Home, cluster: RayCluster):
    done = on_ray.run_flow("gang_flow.py", "run")
    assert done.returncode == 0, done.stdout + done.stderr
    run = Flow("GangFlow").latest_run
    assert run.data.heard == [1]  # node 1 reached node 0 while both ran
    # Both met at the address of the node holding the gang's node 0: this machine's.
    (main_ip,) = run.data.main_ips
    with socket.socket() as probe:
        probe.bind((main_ip, 0))


def test_a_task_leaves_its_worker_process_as_it_found_it(on_ray: Home, cluster: RayCluster):
    done = on_ray.run_flow("tidy_flow.py", "run")
    assert done.returncode == 0, done.stdout + done.stderr
    data = Flow("TidyFlow").latest_run.data
    assert data.leaked == []
    # On the driver's machine tasks start where the run was started, as local tasks do.
    assert data.start_cwd == data.end_cwd == str(on_ray.root)
    assert ray_port_of(data.ray_task) == cluster.port


def test_runner_runs_on_ray(home: Home, cluster: RayCluster):
    runner = Runner(FLOWS / "branch_flow.py", env={**home.env, **cluster.env}, cwd=home.root)
    run = runner.run(executor="ray", ray_address=cluster.address)
    assert run.successful
    assert run.data.sides == ["left", "right"]
    assert ray_port_of(run.data.ray_task) == cluster.port


def test_an_address_nobody_answers_is_refused_at_once(home: Home):
    done = home.run_flow(
        "branch_flow.py", "run", "--executor", "ray", "--ray-address", "127.0.0.1:1", timeout=30
    )
    assert done.returncode == 2
    assert "cannot connect to the Ray cluster at 127.0.0.1:1" in done.stderr
    assert "nothing answers" in done.stderr


def test_a_driver_without_the_clusters_token_is_told_how_to_get_it(home: Home, cluster: RayCluster):
    wrong = home.root / "wrong_token"
    wrong.write_text("0" * 64)
    home.env.update({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(wrong)})
    done = home.run_flow(
        "branch_flow.py", "run", "--executor", "ray", "--ray-address", cluster.address
    )
    assert done.returncode == 2
    assert f"cannot connect to the Ray cluster at {cluster.address}" in done.stderr
    assert "give this machine the same token" in done.stderr


def test_a_ray_client_address_is_refused_with_what_to_use_instead(home: Home):
    done = home.run_flow(
        "branch_flow.py", "run", "--executor", "ray", "--ray-address", "ray://10.0.0.5:10001"
    )
    assert done.returncode == 2
    assert "is a Ray Client address" in done.stderr and "HOST:PORT" in done.stderr


def test_local_executor_options_are_refused_with_ray(home: Home):
    done = home.run_flow("branch_flow.py", "run", "--executor", "ray", "--gpus", "1")
    assert done.returncode == 2
    assert "use @resources to ask for memory or GPUs" in done.stderr


def test_unknown_executor_in_the_configuration_is_refused(home: Home):
    home.env["SHIPYARD_EXECUTOR"] = "slurm"
    done = home.run_flow("branch_flow.py", "run")
    assert done.returncode == 2
    assert "unknown executor 'slurm'" in done.stderr and "local, ray" in done.stderr


def test_without_ray_installed_the_error_says_how_to_install_it(home: Home):
    hide_ray = (
        f"import runpy, sys; sys.modules['ray'] = None; sys.path.insert(0, {str(FLOWS)!r}); "
        f"sys.argv = ['flow.py', 'run', '--executor', 'ray']; "
        f"runpy.run_path({str(FLOWS / 'branch_flow.py')!r}, run_name='__main__')"
    )
    done = subprocess.run(
        [sys.executable, "-c", hide_ray],
        env=home.env,
        cwd=home.root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "pip install 'shipyard[ray]'" in done.stderr


class TestDatastoreReachability:
    HERE = {"127.0.0.1", "10.0.0.1"}

    def test_a_directory_is_made_absolute_when_every_node_is_this_machine(self, tmp_path):
        store = tmp_path / "store"
        assert check_datastore_reachable(str(store), ["10.0.0.1"], self.HERE) == str(store)

    def test_a_directory_is_refused_when_a_node_is_elsewhere(self, tmp_path, monkeypatch):
        monkeypatch.delenv("SHIPYARD_DATASTORE_SHARED", raising=False)
        with pytest.raises(ShipyardError, match=r"nodes on other machines \(10.0.0.9\)"):
            check_datastore_reachable(str(tmp_path), ["10.0.0.1", "10.0.0.9"], self.HERE)

    def test_a_shared_mount_is_accepted_when_declared(self, tmp_path, monkeypatch):
        monkeypatch.setenv("SHIPYARD_DATASTORE_SHARED", "1")
        assert check_datastore_reachable(str(tmp_path), ["10.0.0.9"], self.HERE) == str(tmp_path)

    def test_memory_is_never_reachable(self):
        with pytest.raises(ShipyardError, match="lives in the memory of this process"):
            check_datastore_reachable("memory://store", ["127.0.0.1"], self.HERE)

    def test_object_stores_are_passed_through(self):
        url = "s3://bucket/shipyard"
        assert check_datastore_reachable(url, ["10.0.0.9"], self.HERE) == url


def test_the_ray_sweep_example_runs_on_the_cluster(on_ray: Home, cluster: RayCluster):
    example = Path(__file__).resolve().parents[2] / "examples" / "ray_sweep.py"
    done = on_ray.run_flow(example, "run", "--strengths", "[0.1, 1.0]", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"on the Ray cluster at {cluster.address}" in done.stdout
    run = Flow("RaySweepFlow").latest_run
    assert run.data.C in (0.1, 1.0)
    assert run.data.score == max(task.data.score for task in run["train"])
    assert 0.9 < run.data.accuracy <= 1.0
    assert run.data.accuracy == run.data.score  # the parallel scoring agrees with sklearn
