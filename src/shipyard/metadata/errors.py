"""The errors a metadata backend raises beyond `ObjectNotFound` and `ShipyardError`.

Backends translate their driver's exceptions into these, so that nothing above `metadata/`
has to know which database (or which HTTP service) sits behind the Protocols.
"""

from __future__ import annotations

from shipyard.exceptions import ShipyardError

__all__ = ["MetadataIntegrityError"]


class MetadataIntegrityError(ShipyardError):
    """A write broke a rule of the metadata schema (a missing value, a duplicate key).

    Nothing of the refused write was committed. The driver's own error is the `__cause__`.
    """
