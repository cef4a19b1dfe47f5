"""The errors of feature definitions, training frames and encoders: each says what is wrong
and how to fix it, so a bad definition is refused where it is written, not deep in a query."""

from __future__ import annotations

from shipyard.exceptions import ShipyardError

__all__ = ["EncoderError", "FeatureDefinitionError", "TrainingFrameError"]


class FeatureDefinitionError(ShipyardError):
    """A feature, window, encoder or feature set is declared wrongly (unknown aggregation,
    bad window, unknown column, duplicate name)."""


class TrainingFrameError(ShipyardError):
    """A training frame cannot be built from these labels and facts (a missing column, no
    scan for a table the feature set reads)."""


class EncoderError(ShipyardError):
    """An encoder is used before it is fitted, or its state does not fit the frame."""
