"""Tensors saved exactly as a machine with a GPU saves them, on a machine without one.

For each storage it saves, PyTorch records the device the storage lived on (`cuda:0`), as
named by the first of the taggers registered with `torch.serialization.register_package` that
answers. A tagger that answers `cuda:0` ahead of the CPU's makes `pickle.dumps` and
`torch.save` write the bytes a GPU machine writes for tensors on its first GPU: loading them
with PyTorch's own loaders fails here with `CUDA_ERROR`, as on any CPU-only machine. The flow
`gpu_net_flow.py` imports this module too, so it sits beside it (and in its code snapshot).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.serialization

#: What PyTorch says when it is asked to restore a CUDA storage where CUDA is unavailable.
CUDA_ERROR = "Attempting to deserialize object on a CUDA device"


def _tag_cuda(storage: Any) -> str:
    return "cuda:0"


def _restore_nothing(storage: Any, location: str) -> None:
    return None  # restoring is left to PyTorch's own deserializers


_PACKAGE = (0, _tag_cuda, _restore_nothing)


def tag_storages_as_cuda() -> None:
    """From now on, in this process, every saved storage is recorded as living on `cuda:0`."""
    if _PACKAGE not in torch.serialization._package_registry:
        torch.serialization.register_package(*_PACKAGE)


@contextmanager
def saved_as_cuda() -> Iterator[None]:
    """Within the block, tensors are saved as if they lived on `cuda:0`."""
    tag_storages_as_cuda()
    try:
        yield
    finally:
        torch.serialization._package_registry.remove(_PACKAGE)
