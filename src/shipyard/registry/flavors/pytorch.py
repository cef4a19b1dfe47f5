"""The `pytorch` flavor: an `nn.Module` as its state dict plus the class that rebuilds it.

Pickling a whole module would tie the payload to the exact source it was pickled from; PyTorch
recommends saving the state dict instead. To rebuild the module the payload records its class
as an importable path `module:Class` and the constructor keyword arguments. Those come from
the model's `init_kwargs` attribute when it has one, otherwise from attributes named like the
constructor's parameters (the common `self.hidden = hidden` pattern).

A class defined in the flow file itself is recorded as `__main__:Class` when the model is
registered from a run (its lineage names the run's code snapshot), and rebuilt from that
snapshot wherever it is loaded. The weights load onto the CPU, whatever device they were
trained on, unless the caller asks for a device (`models.load(ref, device="cuda")`).
"""

from __future__ import annotations

import importlib
import inspect
import io
import itertools
import sys
from typing import TYPE_CHECKING, Any

from shipyard.datastore.flow_classes import MAIN_MODULE, is_flow_module
from shipyard.registry.flavors.base import FlavorContext, FlavorError
from shipyard.registry.flavors.devices import CPU, check_device

if TYPE_CHECKING:
    import pandas

    from shipyard.datastore.flow_classes import FlowClasses

__all__ = ["PytorchFlavor", "class_path", "import_class"]


class PytorchFlavor:
    """`torch.nn.Module`s: state dict, class path and constructor kwargs, saved by `torch.save`."""

    name = "pytorch"
    #: Modules whose release is recorded with each version and checked when it loads.
    libraries: tuple[str, ...] = ("torch",)

    def matches(self, model: Any) -> bool:
        if "torch" not in sys.modules:
            return False
        import torch

        return isinstance(model, torch.nn.Module)

    def save(self, model: Any, context: FlavorContext) -> bytes:
        import torch

        if not isinstance(model, torch.nn.Module):
            raise FlavorError(f"the pytorch flavor saves torch.nn.Module, not {type(model)}")
        path = class_path(type(model), context.flow_classes)
        document = {
            "class_path": path,
            "kwargs": constructor_kwargs(model),
            "state_dict": model.state_dict(),
        }
        buffer = io.BytesIO()
        torch.save(document, buffer)
        return buffer.getvalue()

    def load(self, payload: bytes, context: FlavorContext) -> Any:
        import torch

        device = check_device(context.device or CPU)
        # weights_only: a payload holds tensors and plain values, never code to run. Read
        # onto the CPU first: the GPU the weights were saved from need not exist here.
        document = torch.load(io.BytesIO(payload), weights_only=True, map_location=CPU)
        cls = import_class(document["class_path"], context.flow_classes)
        model = cls(**document["kwargs"])
        model.load_state_dict(document["state_dict"])
        model.to(device)
        model.eval()
        return model

    def predict(self, model: Any, frame: pandas.DataFrame) -> Any:
        import numpy
        import torch

        # torch.from_numpy warns on every call about a read-only array (which pandas' copy
        # on write hands out); a writable one is shared, so copy only a read-only one.
        array = numpy.require(frame.to_numpy(dtype="float32"), requirements="W")
        inputs = torch.as_tensor(array, device=_device_of(model))
        model.eval()
        with torch.no_grad():
            output = model(inputs)
        result = output.detach().cpu().numpy()
        # One value per row reads better than rows of one value.
        if result.ndim == 2 and result.shape[1] == 1:
            result = result[:, 0]
        return result


def _device_of(model: Any) -> Any:
    """The device of the model's first parameter or buffer (the CPU for a model without)."""
    import torch

    first = next(itertools.chain(model.parameters(), model.buffers()), None)
    return first.device if first is not None else torch.device(CPU)


def class_path(cls: type, flow_classes: FlowClasses | None = None) -> str:
    """`module:QualName` for a class that can be found again where the model is loaded.

    A class of the flow file (`flow_classes` owns its module) is recorded as `__main__:Name`;
    a clear error explains what to do with any other class that cannot be imported by name.
    """
    module = cls.__module__
    qualname = cls.__qualname__
    if "<locals>" in qualname:
        raise FlavorError(
            f"cannot record the class {qualname} for the pytorch flavor: it must be defined "
            "at module level (in the flow file or an importable module), not inside a "
            "function, so that the model can be rebuilt where it is loaded"
        )
    if flow_classes is not None and flow_classes.owns(module):
        return f"{MAIN_MODULE}:{qualname}"
    if is_flow_module(module):
        raise FlavorError(
            f"cannot record the class {qualname} for the pytorch flavor: it is defined in a "
            "flow file, and the model is not registered from a run of that flow. Register it "
            "inside a step (the run's code snapshot rebuilds the class), with "
            "models.register_from_artifact for a past run's artifact, or define the class in "
            "an importable module"
        )
    return f"{module}:{qualname}"


def import_class(path: str, flow_classes: FlowClasses | None = None) -> type:
    """The class a `module:QualName` path names; `FlavorError` if it cannot be imported.

    Classes of the flow file come from `flow_classes` (the run's code snapshot).
    """
    module_name, _, qualname = path.partition(":")
    if flow_classes is not None and flow_classes.owns(module_name):
        return flow_classes.find(module_name, qualname)
    try:
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise FlavorError(
            f"cannot import the model class {path!r}: {exc}. Install the code that defines it "
            "where the model is loaded."
        ) from exc
    return target  # type: ignore[no-any-return]


def constructor_kwargs(model: Any) -> dict[str, Any]:
    """The keyword arguments that rebuild `model`'s architecture (see the module docstring)."""
    given = getattr(model, "init_kwargs", None)
    if isinstance(given, dict):
        return dict(given)
    parameters = inspect.signature(type(model).__init__).parameters
    kwargs: dict[str, Any] = {}
    for name, parameter in list(parameters.items())[1:]:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if hasattr(model, name):
            kwargs[name] = getattr(model, name)
        elif parameter.default is parameter.empty:
            raise FlavorError(
                f"cannot tell the constructor argument {name!r} of {type(model).__qualname__}: "
                f"store it as `self.{name}` in __init__, or set `model.init_kwargs = {{...}}`"
            )
    return kwargs
