"""Plugs: a function a lower package calls and a package above it provides.

Imports point down the layers (`[tool.importlinter]` in pyproject.toml), yet a few calls must
go up: `MyFlow()` in a flow file runs the command line, and `Run(...).models` asks the model
registry. The lower package declares a `Plug`, the package root (which sits above every
layer) installs the function when `shipyard` is imported, and nothing imports upwards.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, ParamSpec, TypeVar

from shipyard.exceptions import ShipyardError

__all__ = ["Plug"]

P = ParamSpec("P")
R = TypeVar("R")


class Plug(Generic[P, R]):
    """A call site waiting for its implementation; call it like the function it stands for."""

    def __init__(self, purpose: str) -> None:
        self.purpose = purpose
        self._function: Callable[P, R] | None = None

    def install(self, function: Callable[P, R]) -> None:
        """Make `function` what this plug calls; the last one installed wins."""
        self._function = function

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        if self._function is None:  # only if `shipyard/__init__.py` failed half-way
            raise ShipyardError(
                f"nothing provides {self.purpose}: it is installed by `import shipyard`, "
                "which did not complete; import shipyard first to see why"
            )
        return self._function(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Plug({self.purpose!r})"
