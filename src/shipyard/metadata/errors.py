"""The errors a metadata backend raises beyond `ObjectNotFound` and `ShipyardError`.

Backends translate their driver's exceptions into these, so that nothing above `metadata/`
has to know which database (or which HTTP service) sits behind the Protocols.
"""

from __future__ import annotations

from shipyard.exceptions import InfrastructureError, ShipyardError, StoreNotFound

__all__ = [
    "MetadataDamaged",
    "MetadataIntegrityError",
    "MetadataNotFound",
    "MetadataUnavailable",
]


class MetadataIntegrityError(ShipyardError):
    """A write broke a rule of the metadata schema (a missing value, a duplicate key).

    Nothing of the refused write was committed. The driver's own error is the `__cause__`.
    """


class MetadataUnavailable(InfrastructureError):
    """The metadata database cannot be used: a URL that names none, a server that does not
    answer, a full disk, a database that cannot be written. The driver's error is the
    `__cause__`."""


class MetadataDamaged(MetadataUnavailable):
    """The metadata database's file is damaged (not a database, a malformed page, text that
    is not UTF-8): it must be restored, its message says how."""


class MetadataNotFound(MetadataUnavailable, StoreNotFound):
    """There is no metadata database where the URL points (or only an empty file), and the
    caller did not ask for one to be created: readers never create one.

    Also an `ObjectNotFound`: whatever a reader looked for is not there either, and code that
    asks "has this flow run yet?" by catching `ObjectNotFound` keeps working before the first
    run.
    """
