"""Reading a pickle back in a process unlike the one that wrote it.

Two things differ between the task that stored an artifact and the notebook, laptop or
scoring server that reads it, and plain `pickle.loads` fails on both:

- **CUDA tensors where no GPU is visible.** PyTorch pickles a tensor's storage together with
  the device it lived on, and restores it there (`torch.storage._load_from_bytes`), which
  fails with "Attempting to deserialize object on a CUDA device" on a CPU-only machine.
  Storages saved on a CUDA device that does not exist here are restored to the CPU instead;
  where the device exists, they go back to it, as PyTorch would do.
- **Classes of the flow file** (`__main__.Net`), which only the run's code snapshot defines;
  they are found through the `FlowClasses` of the run the reader names (see
  `shipyard.datastore.flow_classes`).

Everything else resolves as with `pickle.loads`; PyTorch is imported only when a pickle
holds a tensor (it is then imported by the pickle anyway).
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shipyard.datastore.flow_classes import FlowClasses

__all__ = ["ArtifactUnpickler", "unpickle"]

#: The function PyTorch's pickles call to rebuild a storage on the device it was saved on.
_TORCH_STORAGE_LOADER = ("torch.storage", "_load_from_bytes")


class ArtifactUnpickler(pickle.Unpickler):
    """An unpickler that maps unavailable CUDA devices to the CPU and finds flow-file classes."""

    def __init__(
        self,
        file: Any,
        *,
        buffers: Iterable[Any] | None = None,
        flow_classes: FlowClasses | None = None,
    ) -> None:
        super().__init__(file, buffers=buffers)
        self._flow_classes = flow_classes

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == _TORCH_STORAGE_LOADER:
            return _load_torch_storage
        if self._flow_classes is not None and self._flow_classes.owns(module):
            return self._flow_classes.find(module, name)
        return super().find_class(module, name)


def unpickle(
    data: bytes | bytearray | memoryview,
    *,
    buffers: Iterable[Any] | None = None,
    flow_classes: FlowClasses | None = None,
) -> Any:
    """The object pickled in `data` (out-of-band `buffers` as `pickle.loads` takes them)."""
    return ArtifactUnpickler(io.BytesIO(data), buffers=buffers, flow_classes=flow_classes).load()


def _load_torch_storage(data: bytes) -> Any:
    """`torch.storage._load_from_bytes`, restoring to the CPU what cannot go back where it was.

    Like PyTorch's own, this runs a full `torch.load` (not `weights_only`): the bytes come
    from a pickle, which is trusted as far as the pickle itself is.
    """
    import torch

    return torch.load(io.BytesIO(data), weights_only=False, map_location=_restore_location)


def _restore_location(storage: Any, location: str) -> Any:
    """`storage` (read onto the CPU) when `location` is a CUDA device absent here; None (let
    PyTorch restore it to `location`) otherwise."""
    if location.startswith("cuda") and not _cuda_device_visible(location):
        return storage
    return None


def _cuda_device_visible(location: str) -> bool:
    import torch

    if not torch.cuda.is_available():
        return False
    index = torch.device(location).index
    return (index or 0) < torch.cuda.device_count()
