"""Resume reuses what succeeded and runs the rest with the current code."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from shipyard import Flow
from shipyard.exceptions import ObjectNotFound
from shipyard.metadata.records import RunStatus, TaskStatus

from ..conftest import FLOWS, Home
from ..waiting import wait_for

#: The local executor must behave alike whichever way it starts tasks.
pytestmark = pytest.mark.usefixtures("each_start_method")

FLOW = "resumable_flow.py"


def break_at(home: Home, step: str | None) -> None:
    marker = home.root / "broken"
    if step is None:
        marker.unlink(missing_ok=True)
    else:
        marker.write_text(step)


def executed(home: Home, run_id: str) -> list[tuple[str, str]]:
    """(step, task id) of every task that really ran in `run_id`."""
    lines = (home.root / "executed.log").read_text().splitlines()
    return [(s, t) for r, s, t in (line.split() for line in lines) if r == run_id]


def succeeded_work_tasks() -> int:
    """How many work tasks of the latest KillableFlow run are recorded as finished."""
    try:
        run = Flow("KillableFlow").latest_run
        work = run["work"] if run is not None else []
    except ObjectNotFound:  # no run, or no work task, recorded yet
        return 0
    return sum(task.status is TaskStatus.SUCCEEDED for task in work)


def processes_running(script: Path) -> list[str]:
    """Pids of the processes whose command line names `script` (forked tasks inherit it)."""
    found = subprocess.run(["pgrep", "-f", str(script)], capture_output=True, text=True)
    return found.stdout.split()


def fail_then_resume(home: Home, step: str, *resume_args: str):
    break_at(home, step)
    # Four workers: all foreach siblings start before the broken one fails.
    failed = home.run_flow(FLOW, "run", "--base", "7", "--max-workers", "4")
    assert failed.returncode == 1
    origin = Flow("ResumableFlow").latest_run
    break_at(home, None)
    resumed = home.run_flow(FLOW, "resume", *resume_args)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    return origin, Flow("ResumableFlow").latest_run


def test_resume_after_a_failed_plain_step_reruns_only_from_there(home: Home):
    origin, run = fail_then_resume(home, "end")
    assert run.successful and run.origin_run_id == origin.id
    assert executed(home, run.id) == [("end", run["end"].task.id)]
    assert run.data.total == (1 + 2 + 3) * 7  # parameters come from the origin run
    reused = run["join"].task
    assert reused.origin_pathspec == origin["join"].task.pathspec
    assert reused.data.total == origin["join"].task.data.total


def test_resume_after_a_failed_foreach_task_reuses_its_siblings(home: Home):
    origin, run = fail_then_resume(home, "work")
    ran = executed(home, run.id)
    assert sorted(step for step, _ in ran) == ["end", "join", "work"]
    work = {t.data.value: t for t in run["work"]}
    assert sorted(work) == [7, 14, 21]
    assert work[14].origin_pathspec is None and work[14].data.origin_seen == origin.id
    assert work[7].origin_pathspec is not None
    assert run.data.total == 42


def test_resume_after_a_failed_join_reuses_both_branches(home: Home):
    _, run = fail_then_resume(home, "branch_join")
    ran_steps = [step for step, _ in executed(home, run.id)]
    assert "left" not in ran_steps and "right" not in ran_steps and "start" not in ran_steps
    assert ran_steps.count("work") == 3
    assert run["branch_join"].task.data.sides == ["left", "right"]


def test_resume_with_step_reruns_that_step_and_everything_after(home: Home):
    assert home.run_flow(FLOW, "run").returncode == 0
    origin = Flow("ResumableFlow").latest_run
    done = home.run_flow(FLOW, "resume", origin.id, "--step", "work")
    assert done.returncode == 0, done.stderr
    run = Flow("ResumableFlow").latest_run
    assert sorted(step for step, _ in executed(home, run.id)) == [
        "end",
        "join",
        "work",
        "work",
        "work",
    ]


def test_resume_of_a_successful_run_without_step_is_refused(home: Home):
    assert home.run_flow(FLOW, "run").returncode == 0
    done = home.run_flow(FLOW, "resume")
    assert done.returncode == 2
    assert "nothing to resume" in done.stderr and "--step" in done.stderr


def test_resume_names_unknown_steps(home: Home):
    break_at(home, "end")
    home.run_flow(FLOW, "run")
    done = home.run_flow(FLOW, "resume", "--step", "nope")
    assert done.returncode == 2
    assert "no such step" in done.stderr


@pytest.mark.slow
def test_runner_killed_mid_run_leaves_nothing_half_done_and_resume_completes(home: Home):
    """SIGKILL the runner while foreach tasks run; resume reruns only what had not finished."""
    slow = home.root / "slow_flow.py"
    slow.write_text((FLOWS / "killable_flow.py").read_text())
    proc = subprocess.Popen(
        [sys.executable, str(slow), "run", "--max-workers", "2"],
        env=home.env,
        cwd=home.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_for(lambda: succeeded_work_tasks() >= 3, 60, "three work tasks recorded as finished")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    killed = Flow("KillableFlow").latest_run
    assert killed.status is RunStatus.LOST and killed.lost and not killed.finished
    listing = subprocess.run(
        [sys.executable, "-m", "shipyard.cli.main", "show", killed.pathspec],
        env={**home.env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    assert "lost" in listing and f"resume {killed.id}" in listing
    # The fork server notices its runner died and stops its tasks.
    wait_for(lambda: not processes_running(slow), 10, "the runner's task processes stopped")

    finished_before = {t.pathspec: t for t in killed["work"] if t.status is TaskStatus.SUCCEEDED}
    assert 3 <= len(finished_before) < 12  # killed mid-run: some to reuse, some to run
    for task in killed["work"]:
        if task.status is TaskStatus.SUCCEEDED:
            assert "value" in task.artifacts  # finished tasks have all their artifacts
        else:
            assert task.artifacts == {}  # unfinished ones show none, never a part

    done = home.run_flow(slow, "resume", killed.id)
    assert done.returncode == 0, done.stderr
    run = Flow("KillableFlow").latest_run
    assert run.successful
    assert sorted(run.data.values) == [i * i for i in range(12)]
    reused = {t.origin_pathspec for t in run["work"] if t.origin_pathspec}
    assert reused == set(finished_before)
    assert Flow("KillableFlow")[killed.id].status is RunStatus.FAILED
    ran_again = [t for t in run["work"] if not t.origin_pathspec]
    assert len(ran_again) == 12 - len(finished_before)


def test_two_resumes_of_one_lost_run_started_at_once_only_one_runs(home: Home):
    """The second is refused before it runs anything, naming the resume that runs."""
    import socket

    from shipyard.metadata import open_metadata

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with open_metadata(home.env["SHIPYARD_METADATA"]) as metadata:
        lost = metadata.create_run(
            "KillableFlow", "tester", runner_host=socket.gethostname(), runner_pid=gone.pid
        )
    command = [sys.executable, str(FLOWS / "killable_flow.py"), "resume", lost]
    resumes = [
        subprocess.Popen(
            [*command, "--max-workers", "1"],
            env=home.env,
            cwd=home.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outcomes = sorted((p.wait(timeout=120), p.communicate()[1]) for p in resumes)

    assert [code for code, _ in outcomes] == [0, 2], outcomes
    assert f"run KillableFlow/{lost} is already being resumed as KillableFlow/" in outcomes[1][1]
    resumed = [run for run in Flow("KillableFlow").runs() if run.origin_run_id == lost]
    assert len(resumed) == 1 and resumed[0].successful
    assert len(list(resumed[0]["work"])) == 12  # every task ran once, by the one resume
