"""Metaflow's `--datastore` and `--metadata` on a flow file, mapped onto Shipyard's settings.

Metaflow picks its stores by kind (`--datastore=s3`, `--metadata=service`) and finds their
places in its own configuration. Shipyard names a store by URL (SHIPYARD_DATASTORE,
SHIPYARD_METADATA), so a kind is accepted where the configured store is of that kind, and
refused, saying which variable to set, where it is not: a run never silently goes elsewhere.
"""

from __future__ import annotations

import os

from shipyard.config import Config
from shipyard.datastore.urls import protocol
from shipyard.exceptions import ConfigError

#: Metaflow's datastore kinds and the fsspec protocols that are that kind.
DATASTORE_KINDS = {
    "local": ("file", "local"),
    "s3": ("s3", "s3a"),
    "gs": ("gs", "gcs"),
    "azure": ("az", "abfs", "abfss"),
}
#: Metaflow's metadata kinds and the URL schemes that are that kind.
METADATA_KINDS = {
    "local": ("sqlite",),
    "service": ("http", "https", "postgresql"),
}
_EXAMPLES = {
    "local": "a folder such as ./.shipyard",
    "s3": "s3://bucket/prefix",
    "gs": "gs://bucket/prefix",
    "azure": "abfs://container/prefix",
    "service": "the team server's https:// URL (or a postgresql:// URL)",
}


def apply_store_choice(
    datastore: str | None, datastore_root: str | None, metadata: str | None
) -> None:
    """Check the kinds asked for against the configuration; `--datastore-root` sets the
    datastore itself (as SHIPYARD_DATASTORE would, also in task processes)."""
    if datastore_root:
        os.environ["SHIPYARD_DATASTORE"] = datastore_root
        Config.reload()
    config = Config.current()
    if datastore:
        _check("datastore", datastore, protocol(config.datastore), DATASTORE_KINDS)
    if metadata:
        scheme = config.metadata.split(":", 1)[0].split("+", 1)[0]
        _check("metadata", metadata, scheme, METADATA_KINDS)


def _check(what: str, kind: str, configured: str, kinds: dict[str, tuple[str, ...]]) -> None:
    variable = f"SHIPYARD_{what.upper()}"
    if kind not in kinds:
        raise ConfigError(
            f"--{what}={kind} is not a Metaflow {what} kind Shipyard knows; use one of "
            f"{', '.join(kinds)}, or set {variable} to a URL"
        )
    if configured not in kinds[kind]:
        current = getattr(Config.current(), what)
        raise ConfigError(
            f"--{what}={kind}: Shipyard's {what} is configured as {current!r}, which is not "
            f"{kind}; set {variable} to {_EXAMPLES[kind]} to use one"
        )
