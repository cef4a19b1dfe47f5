"""Classes defined in a flow file, found again from the run's code snapshot.

A class written in the flow file itself (the most common place for a model class) is pickled
under the name of the module the flow ran as: `__main__` when started with
`python flow.py run`, or `_shipyard_flow_<hash>` in a process that imported the flow from
its snapshot (a Ray worker, a fresh interpreter on the task entrypoint). Neither name can be
imported by a notebook or a scoring server, but every run stores the source it executed: the
flow file is imported from that snapshot under its private name, once per process, and the
class is taken from it.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from shipyard.exceptions import ShipyardError

if TYPE_CHECKING:
    from shipyard.datastore.blobs import BlobStore
    from shipyard.datastore.code import CodePackage

__all__ = [
    "MAIN_MODULE",
    "FlowClassError",
    "FlowClasses",
    "import_flow_module",
    "is_flow_module",
    "snapshot_module_name",
]

#: The name the flow file runs under when started as a script.
MAIN_MODULE = "__main__"
_SNAPSHOT_PREFIX = "_shipyard_flow_"

#: Flow modules this process has imported, by code hash.
_imported: dict[str, ModuleType] = {}
# Reentrant: a flow file may itself read artifacts while it is being imported.
_import_lock = threading.RLock()


class FlowClassError(ShipyardError):
    """A class of a flow file cannot be found again (no snapshot, or its import failed)."""


def is_flow_module(module_name: str) -> bool:
    """Whether `module_name` is a name some flow file runs under (not importable elsewhere)."""
    return module_name == MAIN_MODULE or module_name.startswith(_SNAPSHOT_PREFIX)


def snapshot_module_name(code_hash: str) -> str:
    """The private module name a snapshot's flow file is imported under."""
    return f"{_SNAPSHOT_PREFIX}{code_hash[:16]}"


def import_flow_module(blobs: BlobStore, code_hash: str) -> ModuleType:
    """The flow file of snapshot `code_hash`, imported once per process.

    The snapshot's directory is put first on `sys.path` so that the flow's sibling modules
    import as they did where it ran. Whatever importing the file raises propagates, and a
    failed import is not cached (nor left in `sys.modules`).
    """
    with _import_lock:
        module = _imported.get(code_hash)
        if module is not None:
            return module
        from shipyard.datastore.code import CodePackage

        package = CodePackage(bytes(blobs.get(code_hash)))
        root = _extracted(package, code_hash)
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
        name = snapshot_module_name(code_hash)
        spec = importlib.util.spec_from_file_location(name, root / package.script_name)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
        _imported[code_hash] = module
        return module


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


class FlowClasses:
    """The classes of one run's flow file, for reading what that run stored.

    `code_hash` is called only when a class of the flow file is actually met, so reading
    artifacts of ordinary types costs no metadata query and no import. `running` is the
    module the flow file runs as in this process, for a task of the run: its classes are the
    ones the steps use, whichever name (`__main__`, the snapshot's) stored them.
    """

    def __init__(
        self,
        blobs: BlobStore,
        run: str,
        code_hash: Callable[[], str | None],
        running: ModuleType | None = None,
    ) -> None:
        self._blobs = blobs
        self._run = run
        self._code_hash = code_hash
        self._running = running

    def owns(self, module_name: str) -> bool:
        """Whether `module_name` is a name the flow file ran under."""
        if module_name == MAIN_MODULE:
            return True
        if not is_flow_module(module_name):
            return False
        code_hash = self._code_hash()
        return code_hash is not None and module_name == snapshot_module_name(code_hash)

    def find(self, module_name: str, qualname: str) -> Any:
        """The object `module_name.qualname` of the flow file.

        The module the flow runs as in this process comes first, then a module of that name
        already loaded here (as with plain pickle); otherwise the flow file is imported from
        the run's snapshot, and without one this raises `FlowClassError`.
        """
        for module in (self._running, sys.modules.get(module_name)):
            loaded = _attribute(module, qualname)
            if loaded is not None:
                return loaded
        code_hash = self._code_hash()
        if code_hash is None:
            raise FlowClassError(
                f"{module_name}.{qualname} is defined in the flow file of run {self._run}, "
                "which stored no code snapshot to import it from: read it where the flow "
                "ran, or define the class in a module importable here"
            )
        try:
            module = import_flow_module(self._blobs, code_hash)
        except (Exception, SystemExit) as exc:  # user code: anything may fail on import
            raise FlowClassError(
                f"{module_name}.{qualname} is defined in the flow file of run {self._run}; "
                f"importing that file from the run's code snapshot failed "
                f"({type(exc).__name__}: {exc}). Install what the flow file imports."
            ) from exc
        found = _attribute(module, qualname)
        if found is None:
            raise FlowClassError(
                f"the flow file of run {self._run} (in its code snapshot) defines no "
                f"{qualname}; it was stored as {module_name}.{qualname}"
            )
        return found

    def __repr__(self) -> str:
        return f"<FlowClasses of {self._run}>"


def _attribute(module: ModuleType | None, qualname: str) -> Any:
    target: Any = module
    for part in qualname.split("."):
        target = getattr(target, part, None)
        if target is None:
            return None
    return target
