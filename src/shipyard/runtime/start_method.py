"""How the local executor starts task processes: forked from a warm server, or spawned.

`fork` forks every task from a warm fork server: a task starts in about a millisecond with
the flow's imports done. `spawn` starts workers as new interpreters (exec, nothing inherited
but the environment) that import the flow once and then run task after task
(`runtime.pool`). Fork is unsafe where the forked process may find state that does not
survive it:

- CUDA: a process forked from one that initialised CUDA cannot use it ("Cannot re-initialize
  CUDA in forked subprocess"). A step that asks for a GPU always runs in a spawned worker,
  and when the runner has CUDA initialised (a flow module that asks PyTorch about devices at
  import time), every task does.
- macOS: system frameworks (Accelerate, libdispatch, the Objective-C runtime) are not
  fork-safe, which is why Python itself defaults to spawn there; so does Shipyard.
"""

from __future__ import annotations

import contextlib
import enum
import sys

from shipyard.exceptions import ShipyardError


class StartMethod(enum.Enum):
    FORK = "fork"
    SPAWN = "spawn"

    @classmethod
    def default(cls) -> StartMethod:
        """`spawn` on macOS, `fork` elsewhere."""
        return cls.SPAWN if sys.platform == "darwin" else cls.FORK

    @classmethod
    def named(cls, name: str | None) -> StartMethod:
        """The method called `name` (None: this platform's default)."""
        if name is None:
            return cls.default()
        try:
            return cls(name)
        except ValueError:
            raise ShipyardError(
                f"unknown start method {name!r} (from --start-method or SHIPYARD_START_METHOD); "
                f"choose one of: {', '.join(method.value for method in cls)}"
            ) from None

    def in_this_process(self) -> StartMethod:
        """The method this process can use: `spawn` once CUDA is initialised here."""
        return StartMethod.SPAWN if cuda_initialized() else self


def cuda_initialized() -> bool:
    """Whether this process has started CUDA, so that a child forked from it cannot use it.

    Two signs, neither importing anything: PyTorch, if imported, says it initialised CUDA;
    or the CUDA driver library is loaded, which every CUDA library does on its first device
    query (PyTorch's `torch.cuda.is_available()` included, which leaves
    `torch.cuda.is_initialized()` false but a forked child unable to use CUDA).
    """
    torch = sys.modules.get("torch")
    if torch is not None:
        with contextlib.suppress(Exception):  # a half-imported or unusual torch
            if torch.cuda.is_initialized():
                return True
    return _cuda_driver_loaded()


def _cuda_driver_loaded() -> bool:
    try:
        with open("/proc/self/maps", "rb") as maps:  # Linux; elsewhere there is no CUDA
            return b"/libcuda.so" in maps.read()
    except OSError:
        return False
