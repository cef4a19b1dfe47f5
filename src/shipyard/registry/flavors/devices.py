"""Which device a model is loaded onto: a PyTorch device name, checked where it will be used.

Models load onto the CPU unless the caller names a device (`models.load(ref, device="cuda")`,
`shipyard serve --device cuda`). A name that is not a device, or a device this process cannot
see, is refused before anything is loaded, so a server asked for a GPU never quietly scores
on the CPU and a typo never surfaces as a PyTorch traceback.
"""

from __future__ import annotations

import os

from shipyard.registry.flavors.base import FlavorError

__all__ = ["CPU", "DeviceError", "check_device"]

CPU = "cpu"


class DeviceError(FlavorError):
    """A device name that is not one, or names a device this process cannot see."""


def check_device(name: str) -> str:
    """`name` in PyTorch's canonical form (`cuda` -> `cuda`, `cuda:1`), if usable here.

    Raises `DeviceError` with what to do instead. Imports PyTorch unless `name` is the CPU.
    """
    if name == CPU:
        return name
    try:
        import torch
    except ImportError:
        raise DeviceError(
            f"loading onto device {name!r} needs PyTorch, which is not installed here; "
            "install it (pip install torch) or load onto the CPU"
        ) from None
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise DeviceError(
            f"{name!r} is not a device: use 'cpu', 'cuda', 'cuda:N' (the N-th visible GPU) "
            "or another PyTorch device type such as 'mps'"
        ) from None
    if device.type == "cuda":
        _check_cuda(name, device.index)
    elif device.type != CPU:
        accelerator = torch.accelerator.current_accelerator()
        if accelerator is None or accelerator.type != device.type:
            raise DeviceError(
                f"device {name!r} is not available to this process (PyTorch sees "
                f"{'no accelerator' if accelerator is None else accelerator.type!r}); "
                "load onto 'cpu' or run where that device is"
            )
    return str(device)


def _check_cuda(name: str, index: int | None) -> None:
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        hint = f" (CUDA_VISIBLE_DEVICES={visible!r})" if visible is not None else ""
        raise DeviceError(
            f"device {name!r} was asked for, but this process sees no CUDA GPU{hint}; "
            "load onto 'cpu', or run where a GPU is visible"
        )
    if (index or 0) >= count:
        raise DeviceError(
            f"device {name!r} was asked for, but this process sees {count} CUDA GPU(s): "
            f"use cuda:0 to cuda:{count - 1}"
        )
