"""The GPUs of this machine, as the ids a task may be given in `CUDA_VISIBLE_DEVICES`.

Where they come from, first that answers:

1. `CUDA_VISIBLE_DEVICES`, when set: it is what this process, and so its tasks, may use. An
   empty value (or one starting with an invalid entry such as `-1`) means none; entries are
   indices or UUIDs (`GPU-...`, `MIG-...`), kept as written. As CUDA does, the list ends at
   the first invalid entry.
2. NVML, if `pynvml` (the `nvidia-ml-py` package) happens to be importable; Shipyard does
   not depend on it.
3. `nvidia-smi` on `PATH`, with a short timeout.
4. Otherwise there are none.

PyTorch is never imported here: importing it costs seconds, and asking it about devices
initialises CUDA in the runner, after which forking is unsafe. Executors look only when a
step asks for a GPU (`MachineGpus.look_if_needed`), so a run without GPU steps pays nothing.
An explicit count (`--gpus N`, `SHIPYARD_GPUS`) overrides detection (`declared_gpus`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping

from shipyard.exceptions import ShipyardError
from shipyard.flow.graph import FlowGraph
from shipyard.runtime.resources import requested_resources

#: The variable CUDA (and every library on top of it) reads, once, to know its devices.
VISIBLE_DEVICES = "CUDA_VISIBLE_DEVICES"
#: nvidia-smi can hang on a wedged driver; a run should not hang with it.
_NVIDIA_SMI_TIMEOUT_SECONDS = 10.0


def visible_devices(environ: Mapping[str, str] = os.environ) -> tuple[str, ...] | None:
    """The ids `CUDA_VISIBLE_DEVICES` lists, or None when it is not set."""
    value = environ.get(VISIBLE_DEVICES)
    if value is None:
        return None
    ids: list[str] = []
    for entry in value.split(","):
        entry = entry.strip()
        if not entry or entry.startswith("-"):
            break
        ids.append(entry)
    return tuple(ids)


def detect_gpus(environ: Mapping[str, str] = os.environ) -> tuple[str, ...]:
    """The ids of the GPUs tasks on this machine may use (see the module's docstring)."""
    visible = visible_devices(environ)
    if visible is not None:
        return visible
    found = _from_nvml()
    if found is None:
        found = _from_nvidia_smi(environ)
    return found or ()


def declared_gpus(count: int, environ: Mapping[str, str] = os.environ) -> tuple[str, ...]:
    """The ids of `count` GPUs the user declared: the first `count` of those
    `CUDA_VISIBLE_DEVICES` lists, or 0..count-1 when it is not set."""
    visible = visible_devices(environ)
    if visible is None:
        return tuple(str(index) for index in range(count))
    if count > len(visible):
        raise ShipyardError(
            f"--gpus {count} (or SHIPYARD_GPUS) declares more GPUs than CUDA_VISIBLE_DEVICES="
            f"{environ[VISIBLE_DEVICES]!r} makes visible ({len(visible)}); lower it, or unset "
            "CUDA_VISIBLE_DEVICES"
        )
    return visible[:count]


class MachineGpus:
    """The GPU ids an executor on this machine may hand out: those declared, else those
    detected once a run asks for any."""

    def __init__(self, declared: int | None) -> None:
        self._ids = None if declared is None else declared_gpus(declared)

    @property
    def ids(self) -> tuple[str, ...]:
        return self._ids or ()

    def look_if_needed(self, graph: FlowGraph) -> tuple[str, ...]:
        """Detect the GPUs if none were declared and a step of `graph` asks for one.

        A launch hook that asks for GPUs only on later attempts is not seen here; such a
        run declares its GPUs with `--gpus`.
        """
        if self._ids is None and any(requested_resources(graph, n.name).gpu for n in graph):
            self._ids = detect_gpus()
        return self.ids


def _from_nvml() -> tuple[str, ...] | None:
    try:
        import pynvml  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
        try:
            count = int(pynvml.nvmlDeviceGetCount())
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # NVMLError and its many subclasses: no driver, no device
        return None
    return tuple(str(index) for index in range(count))


def _from_nvidia_smi(environ: Mapping[str, str]) -> tuple[str, ...] | None:
    executable = shutil.which("nvidia-smi", path=environ.get("PATH"))
    if executable is None:
        return None
    try:
        listed = subprocess.run(
            [executable, "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=_NVIDIA_SMI_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if listed.returncode != 0:
        return None
    return tuple(line.strip() for line in listed.stdout.splitlines() if line.strip().isdigit())
