"""`examples/register_model.py` runs as docs/models.md describes it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from shipyard import Flow
from shipyard.registry import models

from ..conftest import Home

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "register_model.py"


def run_example(home: Home, *args: str) -> subprocess.CompletedProcess[str]:
    done = home.run_flow(EXAMPLE, "run", *args, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_example_registers_promotes_and_keeps_the_better_version(home: Home) -> None:
    run_example(home)
    run_example(home, "--C", "0.0001")  # a much worse model: registered, not promoted

    versions = models.versions("cancer-classifier")
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].metrics["accuracy"] > versions[1].metrics["accuracy"]
    production = models.load("cancer-classifier@production")
    assert production.version == 1
    assert production.signature is not None
    assert production.signature.column_names[0] == "mean_radius"
    run = Flow("RegisterModelFlow").latest_run
    assert run is not None and [v.version for v in run.models] == [2]
    assert "predicts [" in run["end"].task.stdout
