"""GPUs: found on the machine (or declared), and given to tasks one set each, as Ray does.

No GPU is needed: a fake `nvidia-smi` first on PATH, `CUDA_VISIBLE_DEVICES` or `--gpus`
declare them, and each task records the `CUDA_VISIBLE_DEVICES` it was given.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shipyard import Flow
from shipyard.exceptions import ShipyardError
from shipyard.runtime.gpus import declared_gpus, detect_gpus

from ..conftest import Home


def fake_nvidia_smi(folder: Path, *indices: int, exit_code: int = 0) -> Path:
    """A folder holding an `nvidia-smi` that lists `indices` as the real one does."""
    folder.mkdir(exist_ok=True)
    script = folder / "nvidia-smi"
    listed = "".join(f"echo {index}\n" for index in indices)
    script.write_text(
        "#!/bin/sh\n"
        '[ "$1" = --query-gpu=index ] && [ "$2" = --format=csv,noheader ] || exit 2\n'
        f"{listed}exit {exit_code}\n"
    )
    script.chmod(0o755)
    return folder


def machine(home: Home, *, visible: str | None = None, path: Path | None = None) -> Home:
    """`home` on a machine whose CUDA_VISIBLE_DEVICES is `visible` (unset if None) and whose
    PATH starts with `path`."""
    env = {k: v for k, v in home.env.items() if k != "CUDA_VISIBLE_DEVICES"}
    if visible is not None:
        env["CUDA_VISIBLE_DEVICES"] = visible
    if path is not None:
        env["PATH"] = f"{path}{os.pathsep}{env.get('PATH', '')}"
    return Home(home.root, env)


# -- detection -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "ids"),
    [
        ("0,1", ("0", "1")),
        ("3, GPU-8f2a,MIG-1c", ("3", "GPU-8f2a", "MIG-1c")),
        ("", ()),
        ("-1", ()),
        ("0,-1,1", ("0",)),  # as CUDA reads it: the list ends at the first invalid entry
    ],
)
def test_cuda_visible_devices_is_the_set_tasks_may_use(value: str, ids: tuple[str, ...]):
    assert detect_gpus({"CUDA_VISIBLE_DEVICES": value}) == ids


def test_nvidia_smi_on_path_lists_the_gpus_when_none_are_made_visible(tmp_path: Path):
    assert detect_gpus({"PATH": str(fake_nvidia_smi(tmp_path / "bin", 0, 1))}) == ("0", "1")


def test_no_nvidia_smi_or_one_that_fails_means_no_gpus(tmp_path: Path):
    assert detect_gpus({"PATH": str(tmp_path)}) == ()
    failing = fake_nvidia_smi(tmp_path / "bin", 0, exit_code=9)
    assert detect_gpus({"PATH": str(failing)}) == ()


def test_declared_gpus_are_the_first_visible_ones_else_counted_from_zero():
    assert declared_gpus(2, {}) == ("0", "1")
    assert declared_gpus(1, {"CUDA_VISIBLE_DEVICES": "3,5"}) == ("3",)
    with pytest.raises(ShipyardError, match="CUDA_VISIBLE_DEVICES='3,5' makes visible \\(2\\)"):
        declared_gpus(3, {"CUDA_VISIBLE_DEVICES": "3,5"})


# -- assignment ----------------------------------------------------------------------------
def run_gpu_assign(home: Home, tmp_path: Path, *args: str):
    rendezvous = tmp_path / "rendezvous"
    rendezvous.mkdir()
    done = home.run_flow(
        "gpu_assign_flow.py", "run", "--max-workers", "2", "--rendezvous", str(rendezvous), *args
    )
    assert done.returncode == 0, done.stderr
    return Flow("GpuAssignFlow").latest_run


def test_each_gpu_task_gets_gpus_of_its_own_in_a_spawned_process(home: Home, tmp_path: Path):
    run = run_gpu_assign(machine(home), tmp_path, "--gpus", "2", "--start-method", "fork")
    trained = {index: saw for index, saw, met_partner in run.data.trained if met_partner}
    assert sorted(trained) == [0, 1, 2, 3]  # each pair did run at the same time...
    devices = {index: saw["devices"] for index, saw in trained.items()}
    assert devices[0] != devices[1] and devices[2] != devices[3]  # ...on different GPUs
    assert set(devices.values()) == {"0", "1"}  # freed GPUs were given again
    pair, cpu = run["pair"].task.data.pair_saw, run["cpu"].task.data.cpu_saw
    assert pair["devices"] == "0,1"
    assert cpu["devices"] is None  # as in the runner: a CPU step's GPUs are not hidden
    # GPU steps imported the flow themselves: spawned, never forked from the runner...
    for saw in [*trained.values(), pair]:
        assert saw["imported_in"] == saw["pid"]
    # ...while the CPU step kept the fork path.
    assert cpu["imported_in"] != cpu["pid"]


def test_visible_devices_are_given_out_and_cpu_steps_keep_the_runners(home: Home, tmp_path: Path):
    run = run_gpu_assign(machine(home, visible="GPU-a,GPU-b"), tmp_path)
    assert {saw["devices"] for _, saw, _ in run.data.trained} == {"GPU-a", "GPU-b"}
    assert run["pair"].task.data.pair_saw["devices"] == "GPU-a,GPU-b"
    assert run["cpu"].task.data.cpu_saw["devices"] == "GPU-a,GPU-b"


def test_gpus_are_detected_without_the_option(home: Home, tmp_path: Path):
    on_one_gpu = machine(home, path=fake_nvidia_smi(tmp_path / "bin", 0))
    done = on_one_gpu.run_flow("gpu_flow.py", "run")
    assert done.returncode == 0, done.stderr
    assert Flow("GpuFlow").latest_run.data.devices == ["0", "0", "0"]


def test_shipyard_gpus_declares_them_like_the_option(home: Home):
    declared = machine(home)
    declared.env["SHIPYARD_GPUS"] = "1"
    done = declared.run_flow("gpu_flow.py", "run")
    assert done.returncode == 0, done.stderr
    assert Flow("GpuFlow").latest_run.data.devices == ["0", "0", "0"]


@pytest.mark.parametrize("visible", ["", None])
def test_a_gpu_step_on_a_machine_without_gpus_is_refused_before_running(
    home: Home, tmp_path: Path, visible: str | None
):
    no_gpus = machine(home, visible=visible, path=fake_nvidia_smi(tmp_path / "bin", exit_code=9))
    done = no_gpus.run_flow("gpu_flow.py", "run", "--strict-resources")
    assert done.returncode == 2
    assert "step 'train' asks for cpu=1, memory=0 MB, gpu=1" in done.stderr
    assert "gpu=0" in done.stderr and "--gpus" in done.stderr


def test_more_gpus_declared_than_visible_is_refused(home: Home):
    done = machine(home, visible="0").run_flow("gpu_flow.py", "run", "--gpus", "2")
    assert done.returncode == 2
    assert "--gpus 2" in done.stderr and "CUDA_VISIBLE_DEVICES='0'" in done.stderr
