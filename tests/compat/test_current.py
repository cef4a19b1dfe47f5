"""Metaflow's `current`: every field inside a step, None (never an error) outside a run."""

from __future__ import annotations

from shipyard import Flow, current

from ..conftest import Home
from .test_metaflow_compat import SOURCES, ported


def test_current_inside_a_step_has_every_metaflow_field(home: Home):
    done = home.run_flow(ported(SOURCES / "mf_current.py", home.root), "run")
    assert done.returncode == 0, done.stderr
    run = Flow("WhereAmIFlow").latest_run
    pathspec = f"WhereAmIFlow/{run.id}/start/{run['start'].task.id}"
    assert run.data.seen == {
        "flow": "WhereAmIFlow",
        "run": run.id,
        "step": "start",
        "task": run["start"].task.id,
        "pathspec": pathspec,
        "namespace": "user:tester",
        "user": "tester",
        "retry": 0,
        "production": False,
        "project": None,
        "branch": None,
        "card": None,
        "missing": "fallback",
        "got_step": "start",
        "nodes": 1,
        "node": 0,
        "run_object": f"WhereAmIFlow/{run.id}",
        "task_object": pathspec,
        "scratch_existed": True,
    }


def test_outside_a_run_every_field_is_none():
    assert not current.is_running_flow
    fields = ["flow_name", "run_id", "step_name", "task_id", "pathspec", "retry_count"]
    fields += ["namespace", "run", "task", "tempdir", "project_name", "branch_name"]
    fields += ["is_production", "parallel", "card", "username", "tags", "origin_run_id"]
    assert {name: getattr(current, name) for name in fields} == dict.fromkeys(fields)
    assert current.get("run_id", "none here") == "none here"
