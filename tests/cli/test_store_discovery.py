"""Which store a command uses when none is configured: the project's `.shipyard`, found from
the current folder up, as Metaflow finds `.metaflow`; a read never creates one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import FLOWS


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An environment that configures no store at all, as on a new user's machine."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    return {
        **clean,
        "SHIPYARD_USER": "tester",
        "SHIPYARD_CONFIG": str(tmp_path / "no-config.toml"),
        "COLUMNS": "200",
    }


def run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def project(tmp_path: Path, env: dict[str, str]) -> Path:
    """A project folder with one run of LinearFlow in its `.shipyard`."""
    root = tmp_path / "project"
    (root / "notebooks" / "deep").mkdir(parents=True)
    done = run(env, root, str(FLOWS / "linear_flow.py"), "run", "--count", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (root / ".shipyard" / "metadata.db").is_file()
    return root


def test_a_subfolder_of_the_project_reads_the_projects_store(
    project: Path, env: dict[str, str]
) -> None:
    listed = run(env, project / "notebooks" / "deep", "-m", "shipyard", "runs")

    assert listed.returncode == 0, listed.stderr
    assert "LinearFlow/1" in listed.stdout
    assert not (project / "notebooks" / "deep" / ".shipyard").exists()


def test_a_run_in_a_subfolder_records_into_the_projects_store(
    project: Path, env: dict[str, str]
) -> None:
    done = run(env, project / "notebooks", str(FLOWS / "linear_flow.py"), "run", "--count", "1")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "LinearFlow/2" in done.stdout
    assert not (project / "notebooks" / ".shipyard").exists()


def test_a_folder_outside_any_project_says_which_store_it_looked_for_and_creates_none(
    project: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    listed = run(env, elsewhere, "-m", "shipyard", "runs")
    shown = run(env, elsewhere, "-m", "shipyard", "show", "LinearFlow/1")

    assert listed.returncode == 0, listed.stderr
    assert f"no runs found: no Shipyard store at {elsewhere / '.shipyard'}" in listed.stdout
    assert "--all-users" not in listed.stdout
    assert shown.returncode == 1
    assert f"no Shipyard store at {elsewhere / '.shipyard'}" in shown.stderr
    assert "Traceback" not in shown.stderr
    assert not (elsewhere / ".shipyard").exists()


def test_an_empty_listing_names_the_store_it_read(project: Path, env: dict[str, str]) -> None:
    someone = env | {"SHIPYARD_USER": "someone"}

    listed = run(someone, project / "notebooks", "-m", "shipyard", "runs")

    assert listed.returncode == 0, listed.stderr
    assert f"no runs found for user:someone in {project / '.shipyard'}" in listed.stdout
