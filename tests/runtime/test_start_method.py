"""How the local executor starts tasks: forked from a warm server, or in spawned warm workers.

Fork is what CPU tasks use on Linux; spawn is the default on macOS, selectable anywhere, and
forced wherever forking is unsafe: for GPU steps (tests/runtime/test_gpus.py) and for every
task once the runner has CUDA initialised. The rest of the local executor's behaviour is
specified once for both methods (the modules using the `each_start_method` fixture).
"""

from __future__ import annotations

import _ctypes
import shutil
import sys
from pathlib import Path

import pytest

from shipyard import Flow
from shipyard.exceptions import ShipyardError
from shipyard.runtime.start_method import StartMethod

from ..conftest import Home


def run_gpu_assign(home: Home, tmp_path: Path, *args: str):
    rendezvous = tmp_path / "rendezvous"
    rendezvous.mkdir()
    done = home.run_flow(
        "gpu_assign_flow.py", "run", "--max-workers", "2", "--gpus", "2",
        "--rendezvous", str(rendezvous), *args,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return Flow("GpuAssignFlow").latest_run


def test_spawned_workers_import_the_flow_once_and_run_task_after_task(home: Home, tmp_path: Path):
    run = run_gpu_assign(home, tmp_path, "--start-method", "spawn")
    start, cpu = run["start"].task.data.start_saw, run["cpu"].task.data.cpu_saw
    assert start["imported_in"] == start["pid"] and cpu["imported_in"] == cpu["pid"]
    # Four GPU tasks ran in the two workers started for their GPUs: warm after the first.
    assert len({saw["pid"] for _, saw, _ in run.data.trained}) == 2


def test_a_runner_with_cuda_initialised_never_forks_tasks(home: Home, tmp_path: Path):
    # What a flow module asking PyTorch about devices at import time does: load the driver.
    fake_driver = tmp_path / "libcuda.so.1"
    shutil.copy(_ctypes.__file__, fake_driver)
    home.env["FAKE_LIBCUDA"] = str(fake_driver)
    run = run_gpu_assign(home, tmp_path, "--start-method", "fork")
    for saw in (run["start"].task.data.start_saw, run["cpu"].task.data.cpu_saw):
        assert saw["imported_in"] == saw["pid"]


def test_spawn_is_the_default_on_macos_and_fork_elsewhere(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert StartMethod.default() is StartMethod.SPAWN
    monkeypatch.setattr(sys, "platform", "linux")
    assert StartMethod.default() is StartMethod.FORK
    assert StartMethod.named(None) is StartMethod.FORK


def test_an_unknown_start_method_is_refused_with_the_choices(home: Home):
    with pytest.raises(ShipyardError, match=r"unknown start method 'vfork'.*fork, spawn"):
        StartMethod.named("vfork")
    home.env["SHIPYARD_START_METHOD"] = "vfork"
    done = home.run_flow("linear_flow.py", "run", "--count", "1")
    assert done.returncode == 2
    assert "unknown start method 'vfork'" in done.stderr
