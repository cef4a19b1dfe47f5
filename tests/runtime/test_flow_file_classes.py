"""Tasks read instances of flow-file classes whichever way the task that stored them ran."""

from __future__ import annotations

from shipyard import Flow

from ..conftest import Home


def test_forked_and_fresh_interpreter_tasks_read_each_others_flow_file_classes(
    home: Home,
) -> None:
    done = home.run_flow("fresh_classes_flow.py", "run", "--quiet")

    assert done.returncode == 0, done.stderr
    run = Flow("FreshClassesFlow").latest_run
    assert run["train"].task.data.stored_as.startswith("_shipyard_flow_")
    assert run.data.count == 2
    assert run.data.same_class  # the forked task's own Counter, not a second copy
