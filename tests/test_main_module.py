"""`python -m shipyard ...` is the `shipyard` command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import Home


def run_command(home: Home, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, env=home.env, cwd=home.root, capture_output=True, text=True, check=False
    )


def test_python_m_shipyard_answers_like_the_shipyard_command(home: Home) -> None:
    script = Path(sys.executable).with_name("shipyard")
    as_module = run_command(home, sys.executable, "-m", "shipyard", "--help")
    assert as_module.returncode == 0
    assert as_module.stdout == run_command(home, str(script), "--help").stdout
    assert as_module.stdout.startswith("Usage: shipyard ")


def test_python_m_shipyard_lists_runs(home: Home) -> None:
    assert home.run_flow("linear_flow.py", "run", "--count", "1").returncode == 0
    listed = run_command(home, sys.executable, "-m", "shipyard", "runs")
    assert listed.returncode == 0, listed.stderr
    assert "LinearFlow/" in listed.stdout
