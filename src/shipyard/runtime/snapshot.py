"""Importing a run's flow class from its code snapshot, in a process that did not start the run.

Ray workers and fresh interpreters on the task entrypoint only have the datastore: the
snapshot is extracted once per machine and imported once per process (by
`shipyard.datastore.flow_classes`, which also serves readers of the run's artifacts), so a
reused worker pays for it on its first task only.
"""

from __future__ import annotations

from shipyard.datastore.blobs import BlobStore
from shipyard.datastore.flow_classes import import_flow_module
from shipyard.exceptions import ShipyardError
from shipyard.flow.spec import FlowSpec


def import_flow(blobs: BlobStore, code_hash: str | None, flow_name: str) -> type[FlowSpec]:
    """The flow class `flow_name` as the snapshot `code_hash` defines it."""
    if code_hash is None:
        raise ShipyardError(
            "the task carries no code snapshot, so no other process can import its flow; "
            "start it through `python flow.py run`, which snapshots the code"
        )
    module = import_flow_module(blobs, code_hash)
    flow_class = getattr(module, flow_name, None)
    if not (isinstance(flow_class, type) and issubclass(flow_class, FlowSpec)):
        raise ShipyardError(f"the flow file in the code snapshot defines no flow {flow_name!r}")
    return flow_class
