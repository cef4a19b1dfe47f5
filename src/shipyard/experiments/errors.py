"""How experiments fail: typed errors whose messages say what is wrong and what to do."""

from __future__ import annotations

from shipyard.exceptions import ShipyardError

__all__ = ["ExperimentDefinitionError", "SampleRatioMismatch"]


class ExperimentDefinitionError(ShipyardError, ValueError):
    """A definition that cannot run: shares not summing to 1, an unknown model or alias, a
    cell named twice, a layer without room; nothing was stored."""


class SampleRatioMismatch(UserWarning):
    """The units per cell are too unlike the allocation (chi-square): units went missing
    from some cell, and the comparison cannot be trusted until the cause is found."""
