"""What a model library knows about a model's inputs: their signature, and refusing bad ones.

A model registered without an `input_example` (the common `models.register("iris", model)`)
still gets a signature when its library records one (scikit-learn's `feature_names_in_`,
XGBoost's feature names and types), so bad input is refused with a message naming the
column before it reaches the model. Where the library checks input itself, its refusal is
the caller's fault, not a failure of the model: `refuses_input` tells the two apart, so that
a server can answer 422 instead of 500. A flavor that knows neither simply does not
implement this protocol.
"""

from __future__ import annotations

import traceback
from typing import Any, Protocol, runtime_checkable

from shipyard.registry.signature import Signature

__all__ = ["InspectsInputs", "raised_in"]

# Libraries that model libraries call to convert input: a refusal raised inside them on a
# model library's behalf is still the model library's refusal.
_ARRAY_LIBRARIES = frozenset({"numpy", "pandas", "scipy", "pyarrow"})


@runtime_checkable
class InspectsInputs(Protocol):
    """A flavor that can read a model's inputs from the model and recognise its refusals."""

    def signature_of(self, model: Any) -> Signature | None:
        """The signature the fitted `model` records about itself; None if it records none."""
        ...

    def refuses_input(self, error: BaseException) -> bool:
        """Whether `error`, raised by `predict`, is the library refusing its input."""
        ...


def raised_in(error: BaseException, package: str) -> bool:
    """Whether the innermost code that raised `error` belongs to `package`.

    Frames of the array libraries are skipped: scikit-learn converting a frame through
    NumPy raises from inside NumPy, but the check is scikit-learn's. Code of the user's own
    (a custom transformer, a wrapper) is not the library: its errors stay the model's.
    """
    modules = [
        str(frame.f_globals.get("__name__", ""))
        for frame, _ in traceback.walk_tb(error.__traceback__)
    ]
    own = [m for m in modules if m.partition(".")[0] not in _ARRAY_LIBRARIES]
    return bool(own) and own[-1].partition(".")[0] == package
