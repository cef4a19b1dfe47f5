"""Metaflow's Runner API from a script: run, resume, and a notebook flow run asynchronously."""

from __future__ import annotations

from pathlib import Path

from shipyard.runtime.runner import cli_arguments

from ..conftest import Home
from .porting import SOURCES, ported, run_script


def test_runner_runs_resumes_and_follows_a_notebook_flow_as_documented(home: Home) -> None:
    flow = ported(SOURCES / "mf_runner_flow.py", home.root)
    script = ported(SOURCES / "mf_runner_script.py", home.root)
    done = run_script(home, script, str(flow))
    assert done.returncode == 0, done.stderr
    assert "runner ok RunnerFlow/" in done.stdout
    # NBRunner's flow file is gone once it cleaned up; only the two ported files remain.
    assert sorted(p.name for p in home.root.glob("*.py")) == [flow.name, script.name]


def test_keyword_arguments_become_the_flow_files_options() -> None:
    arguments = cli_arguments(
        Path("flow.py"),
        "run",
        {"metadata": "local", "quiet": True, "decospecs": ["retry"]},
        {"alpha": 0.5, "tags": ["a", "b"], "max_workers": 4, "grid": {"xs": [1]}, "flag": True},
    )
    assert arguments == [
        *("flow.py", "--metadata", "local", "run", "--quiet"),
        *("--with", "retry", "--alpha", "0.5", "--tag", "a", "--tag", "b"),
        *("--max-workers", "4", "--grid", '{"xs": [1]}', "--flag", "true"),
    ]
    resume = cli_arguments(
        Path("flow.py"), "resume", {}, {"origin_run_id": "12", "step_to_rerun": "train"}
    )
    assert resume == ["flow.py", "resume", "12", "--step", "train"]


def test_nbrunner_runs_a_flow_defined_in_a_notebook_cell(home: Home) -> None:
    notebook = ported(SOURCES / "mf_notebook.py", home.root)
    done = run_script(home, notebook)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "notebook ok NotebookFlow/1 1.0 True" in done.stdout
    # The cell's flow file is gone once the run is over.
    assert sorted(p.name for p in home.root.glob("*.py")) == [notebook.name]
