"""Classes written in a flow file are found again from the run's code snapshot.

A script run as `__main__` (as `python flow.py run` runs the flow file) pickles its classes
as `__main__.Name`; these tests read such pickles in this process, where `__main__` is
pytest's and defines none of them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shipyard.datastore import BlobStore, FlowClasses, snapshot_code
from shipyard.datastore.flow_classes import FlowClassError, snapshot_module_name
from shipyard.datastore.unpickling import unpickle

FLOW_FILE = """
class Thing:
    def __init__(self, n):
        self.n = n
"""


def pickled_by_main(source: str, expression: str) -> bytes:
    """What a script whose `__main__` runs `source` pickles for `expression`."""
    script = f"{source}\nimport pickle, sys\nsys.stdout.buffer.write(pickle.dumps({expression}))\n"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, timeout=60, check=True
    )
    return done.stdout


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    return BlobStore(str(tmp_path / "store"))


def snapshot_of(blobs: BlobStore, root: Path, source: str) -> str:
    """The code hash of a run whose flow file is `source`."""
    flow = root / "flow.py"
    flow.parent.mkdir(parents=True, exist_ok=True)
    flow.write_text(source)
    return blobs.put_bytes(snapshot_code(flow))


def test_an_instance_of_a_flow_file_class_is_rebuilt_from_the_snapshot(
    blobs: BlobStore, tmp_path: Path
) -> None:
    code_hash = snapshot_of(blobs, tmp_path / "project", FLOW_FILE)
    stream = pickled_by_main(FLOW_FILE, "Thing(3)")
    with pytest.raises(AttributeError, match="Thing"):
        unpickle(stream)

    thing = unpickle(stream, flow_classes=FlowClasses(blobs, "F/1", lambda: code_hash))

    assert thing.n == 3
    assert type(thing).__module__ == snapshot_module_name(code_hash)
    assert type(thing).__qualname__ == "Thing"


def test_the_snapshot_is_looked_up_only_when_a_flow_file_class_is_met(
    blobs: BlobStore,
) -> None:
    lookups: list[str] = []

    def code_hash() -> str | None:
        lookups.append("looked up")
        return None

    classes = FlowClasses(blobs, "F/1", code_hash)

    assert unpickle(pickled_by_main("", "{'a': [1, 2.5]}"), flow_classes=classes) == {"a": [1, 2.5]}
    assert lookups == []


def test_only_this_runs_snapshot_module_is_taken_for_its_flow_file(blobs: BlobStore) -> None:
    code_hash = "ab" * 32
    classes = FlowClasses(blobs, "F/1", lambda: code_hash)

    assert classes.owns("__main__")
    assert classes.owns(snapshot_module_name(code_hash))
    assert not classes.owns(snapshot_module_name("cd" * 32))
    assert not classes.owns("sklearn.pipeline")


def test_a_flow_file_class_of_a_run_without_snapshot_is_refused_naming_the_run(
    blobs: BlobStore,
) -> None:
    stream = pickled_by_main(FLOW_FILE, "Thing(3)")

    with pytest.raises(FlowClassError, match=r"flow file of run F/7, which stored no code"):
        unpickle(stream, flow_classes=FlowClasses(blobs, "F/7", lambda: None))


def test_a_flow_file_that_fails_to_import_here_says_what_failed(
    blobs: BlobStore, tmp_path: Path
) -> None:
    source = "import gpu_only_library\n" + FLOW_FILE
    code_hash = snapshot_of(blobs, tmp_path / "broken", source)
    stream = pickled_by_main(FLOW_FILE, "Thing(3)")
    classes = FlowClasses(blobs, "F/2", lambda: code_hash)

    with pytest.raises(FlowClassError, match=r"run F/2; importing .* failed \(ModuleNotFound"):
        unpickle(stream, flow_classes=classes)
    assert snapshot_module_name(code_hash) not in sys.modules
