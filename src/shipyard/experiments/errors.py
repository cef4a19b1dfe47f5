"""How experiments fail: typed errors whose messages say what is wrong and what to do."""

from __future__ import annotations

from shipyard.exceptions import ShipyardError

__all__ = ["ExperimentDefinitionError"]


class ExperimentDefinitionError(ShipyardError, ValueError):
    """A definition that cannot run: shares not summing to 1, an unknown model or alias, a
    cell named twice, a layer without room; nothing was stored."""
