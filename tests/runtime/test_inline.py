"""`--executor inline`: every task runs in the runner's own process, so pdb can stop in a step."""

from __future__ import annotations

from shipyard import Flow, StepFailure
from shipyard.metadata.records import TaskStatus

from ..conftest import Home


def inline(home: Home, flow: str, *args: str):
    done = home.run_flow(flow, "run", "--executor", "inline", *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_every_step_runs_in_the_runners_process(home: Home, metadata):
    inline(home, "where_flow.py")
    run = Flow("WhereFlow").latest_run
    runner_pid = metadata.get_run("WhereFlow", run.id).runner_pid
    start_at, end_at = run["start"].task.data.start_at, run.data.end_at
    assert start_at["pid"] == end_at["pid"] == runner_pid
    assert start_at["module"] == "__main__"  # the flow the runner imported, breakpoints and all
    assert run.data.sentence == "hello world"


def test_python_output_is_logged_and_still_reaches_the_terminal(home: Home):
    done = inline(home, "where_flow.py", "--greeting", "hi")
    task = Flow("WhereFlow").latest_run["start"].task
    assert task.stdout == "hi from start\n"
    assert "hi from start" in done.stdout
    # Written by C code straight to the descriptor: on the terminal, not in the logs.
    assert "straight to descriptor 2" in done.stderr
    assert "straight to descriptor 2" not in task.stderr


def test_retries_keep_each_attempts_logs_and_error(home: Home):
    inline(home, "where_flow.py")
    end = Flow("WhereFlow").latest_run["end"].task
    assert [(a.attempt, a.status) for a in end.attempts] == [
        (0, TaskStatus.FAILED),
        (1, TaskStatus.SUCCEEDED),
    ]
    assert end.logs(attempt=0) == "attempt 0 of end\n"
    assert "RuntimeError: the first attempt of end fails" in end.logs("stderr", attempt=0)


def test_timeout_retry_and_catch_work_inline(home: Home):
    inline(home, "decorated_flow.py", "--mode", "slow")
    task = Flow("DecoratedFlow").latest_run["work"].task
    assert isinstance(task.data.problem, StepFailure)
    assert task.data.problem.exception_type.endswith("StepTimeout")
    assert len(task.attempts) == 3


def test_a_task_leaves_the_runner_as_it_found_it(home: Home):
    inline(home, "tidy_flow.py")
    data = Flow("TidyFlow").latest_run.data
    assert data.leaked == []
    assert data.start_cwd == data.end_cwd == str(home.root)
