"""`@resources`, `@kubernetes` and `@batch` as Metaflow users expect them on a laptop."""

from __future__ import annotations

from shipyard import Flow

from ..conftest import Home
from .test_metaflow_compat import SOURCES, ported


def test_a_request_larger_than_the_machine_runs_capped_with_a_warning(home: Home):
    flow = ported(SOURCES / "mf_resources.py", home.root)
    done = home.run_flow(flow, "run", "--max-workers", "2", "--max-memory", "1000")
    assert done.returncode == 0, done.stderr
    assert (
        "warning: step 'start' asks for cpu=512, memory=4000000 MB, gpu=0, but the local "
        "executor has cpu=2, memory=1000 MB, gpu=0: its tasks run with cpu=2, memory=1000 MB, "
        "gpu=0"
    ) in done.stderr
    run = Flow("BigAskFlow").latest_run
    assert run["start"].task.resources == {"cpu": 2, "memory": 1000, "gpu": 0}
    # @kubernetes / @batch ask like @resources; with both, the larger of each wins.
    assert run["train"].task.resources == {"cpu": 1, "memory": 128, "gpu": 0}
    assert run["score"].task.resources == {"cpu": 1, "memory": 32, "gpu": 0}


def test_strict_resources_refuses_before_anything_runs(home: Home):
    flow = ported(SOURCES / "mf_resources.py", home.root)
    done = home.run_flow(flow, "run", "--max-workers", "2", "--strict-resources")
    assert done.returncode == 2
    assert "step 'start' asks for cpu=512" in done.stderr and "Lower the step's" in done.stderr
    assert "warning" not in done.stderr
