"""Importing a run's flow class from its code snapshot, in a process that did not start the run.

Ray workers and fresh interpreters on the task entrypoint only have the datastore: the
snapshot is extracted once per machine and imported once per process, so a reused worker
pays for it on its first task only.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
from pathlib import Path

from shipyard.datastore.blobs import BlobStore
from shipyard.datastore.code import CodePackage
from shipyard.exceptions import ShipyardError
from shipyard.flow.spec import FlowSpec

#: Flow classes this process has imported, by (code hash, flow name).
_imported: dict[tuple[str, str], type[FlowSpec]] = {}


def import_flow(blobs: BlobStore, code_hash: str | None, flow_name: str) -> type[FlowSpec]:
    """The flow class `flow_name` as the snapshot `code_hash` defines it."""
    if code_hash is None:
        raise ShipyardError(
            "the task carries no code snapshot, so no other process can import its flow; "
            "start it through `python flow.py run`, which snapshots the code"
        )
    key = (code_hash, flow_name)
    cached = _imported.get(key)
    if cached is not None:
        return cached
    package = CodePackage(bytes(blobs.get(code_hash)))
    root = _extracted(package, code_hash)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))  # the flow's sibling modules import as they did locally
    module_name = f"_shipyard_flow_{code_hash[:16]}"
    module_spec = importlib.util.spec_from_file_location(module_name, root / package.script_name)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module
    module_spec.loader.exec_module(module)
    flow_class = getattr(module, flow_name, None)
    if not (isinstance(flow_class, type) and issubclass(flow_class, FlowSpec)):
        raise ShipyardError(
            f"{package.script_name} in the code snapshot defines no flow {flow_name!r}"
        )
    _imported[key] = flow_class
    return flow_class


def _extracted(package: CodePackage, code_hash: str) -> Path:
    """The snapshot's directory on this machine, extracted by whichever process came first."""
    root = Path(tempfile.gettempdir(), "shipyard-code", code_hash)
    if not root.is_dir():
        root.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{code_hash[:12]}-", dir=root.parent))
        package.extract(staging)
        try:
            staging.rename(root)
        except OSError:  # another process on this machine extracted it first
            shutil.rmtree(staging, ignore_errors=True)
    return root
