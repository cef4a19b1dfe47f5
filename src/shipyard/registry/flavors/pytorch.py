"""The `pytorch` flavor: an `nn.Module` as its state dict plus the class that rebuilds it.

Pickling a whole module would tie the payload to the exact source it was pickled from; PyTorch
recommends saving the state dict instead. To rebuild the module the payload records its class
as an importable path `module:Class` and the constructor keyword arguments. Those come from
the model's `init_kwargs` attribute when it has one, otherwise from attributes named like the
constructor's parameters (the common `self.hidden = hidden` pattern).
"""

from __future__ import annotations

import importlib
import inspect
import io
import sys
from typing import TYPE_CHECKING, Any

from shipyard.registry.flavors.base import FlavorError

if TYPE_CHECKING:
    import pandas

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

    def save(self, model: Any) -> bytes:
        import torch

        if not isinstance(model, torch.nn.Module):
            raise FlavorError(f"the pytorch flavor saves torch.nn.Module, not {type(model)}")
        path = class_path(type(model))
        document = {
            "class_path": path,
            "kwargs": constructor_kwargs(model),
            "state_dict": model.state_dict(),
        }
        buffer = io.BytesIO()
        torch.save(document, buffer)
        return buffer.getvalue()

    def load(self, payload: bytes) -> Any:
        import torch

        # weights_only: a payload holds tensors and plain values, never code to run.
        document = torch.load(io.BytesIO(payload), weights_only=True)
        cls = import_class(document["class_path"])
        model = cls(**document["kwargs"])
        model.load_state_dict(document["state_dict"])
        model.eval()
        return model

    def predict(self, model: Any, frame: pandas.DataFrame) -> Any:
        import torch

        inputs = torch.as_tensor(frame.to_numpy(dtype="float32"))
        model.eval()
        with torch.no_grad():
            output = model(inputs)
        result = output.detach().cpu().numpy()
        # One value per row reads better than rows of one value.
        if result.ndim == 2 and result.shape[1] == 1:
            result = result[:, 0]
        return result


def class_path(cls: type) -> str:
    """`module:QualName` for a class importable by that name; a clear error otherwise."""
    module = cls.__module__
    qualname = cls.__qualname__
    if module == "__main__" or "<locals>" in qualname:
        raise FlavorError(
            f"cannot record the class {qualname} for the pytorch flavor: it must be defined "
            "at module level in an importable module (not in __main__ or inside a function), "
            "so that the model can be rebuilt where it is loaded"
        )
    return f"{module}:{qualname}"


def import_class(path: str) -> type:
    """The class a `module:QualName` path names; `FlavorError` if it cannot be imported."""
    module_name, _, qualname = path.partition(":")
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
