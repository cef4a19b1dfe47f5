"""The CI entry point: a missing service fails the suite, however `.ci/run` is started."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .conftest import missing_service

CI_RUN = Path(__file__).resolve().parents[1] / ".ci" / "run"


def test_ci_run_exports_ci_true_to_everything_it_runs(tmp_path: Path) -> None:
    # Stand-ins for make (and apt-get, on a machine without PostgreSQL) note what they saw.
    seen = tmp_path / "seen"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("make", "apt-get"):
        stand_in = bin_dir / tool
        stand_in.write_text(f'#!/bin/sh\necho "{tool} $* CI=$CI" >> {seen}\n')
        stand_in.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    done = subprocess.run(
        ["bash", str(CI_RUN)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    made = [line for line in seen.read_text().splitlines() if line.startswith("make")]
    assert made == ["make lint CI=true", "make test CI=true"]


def test_a_missing_service_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="PostgreSQL is not installed"):
        missing_service("PostgreSQL is not installed")


def test_a_missing_service_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        missing_service("PostgreSQL is not installed")
