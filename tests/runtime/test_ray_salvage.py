"""Recovering a dead Ray task's output: what a node answers, and how the answers combine.

The cluster-level behaviour (a node killed mid-task) is in test_ray_node_loss.py; here each
node's answer is built for real (files on disk, a real datastore) without starting Ray.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from ray.exceptions import TaskUnschedulableError

from shipyard.datastore.blobs import BlobStore
from shipyard.exceptions import DatastoreError
from shipyard.runtime.ray_salvage import SALVAGE_TIMEOUT_SECONDS, LogSalvage, salvage_logs
from shipyard.runtime.spec import Outcome, TaskSpec
from shipyard.runtime.worker import task_log_files

WHY = "the Ray node n1 at 10.0.0.1 running the task died\n"
NODES = {"n1": "node n1 at 10.0.0.1", "n2": "node n2 at 10.0.0.2", "n3": "node n3 at 10.0.0.3"}


def dead_task(datastore: Path) -> TaskSpec:
    """A task that printed before its worker died: its output files are on this machine."""
    spec = TaskSpec(
        flow_name="SalvageFlow",
        run_id=uuid.uuid4().hex,  # the files' folder is per run: never another test's
        step_name="work",
        task_id="2",
        attempt=0,
        inputs=(),
        foreach_stack=(),
        datastore_url=str(datastore),
        username="tester",
        tags=frozenset(),
    )
    logs = task_log_files(spec)
    logs.stdout.parent.mkdir(parents=True, exist_ok=True)
    logs.stdout.write_text("printed before dying\n")
    return spec


def refusing_datastore(tmp_path: Path) -> Path:
    """A datastore whose blobs folder is a file: every write fails as on a broken disk."""
    store = tmp_path / "broken"
    store.mkdir()
    (store / "blobs").write_text("not a folder")
    return store


def test_the_node_with_the_output_stores_it_and_removes_the_files(tmp_path: Path):
    spec = dead_task(tmp_path / "store")
    stdout_hash, stderr_hash = salvage_logs(spec) or (None, None)
    assert stdout_hash is not None and stderr_hash is None  # nothing went to stderr
    assert bytes(BlobStore(spec.datastore_url).get(stdout_hash)) == b"printed before dying\n"
    assert not task_log_files(spec).exist()
    assert salvage_logs(spec) is None  # a node without the files has nothing to give


def test_a_datastore_that_refuses_the_output_is_that_nodes_error(tmp_path: Path):
    spec = dead_task(refusing_datastore(tmp_path))
    with pytest.raises(DatastoreError, match="cannot write to the datastore"):
        salvage_logs(spec)
    assert task_log_files(spec).stdout.exists()  # kept for another try
    task_log_files(spec).remove()


def salvage(spec: TaskSpec) -> LogSalvage:
    return LogSalvage(spec, WHY, NODES, deadline=0.0)


def test_a_lost_nodes_failure_does_not_discard_the_output_another_node_stored(tmp_path: Path):
    spec = dead_task(tmp_path / "store")
    asked = salvage(spec)
    asked.failed("n1", TaskUnschedulableError("the node specified doesn't exist any more"))
    assert not asked.done
    asked.answered("n2", salvage_logs(spec))
    assert asked.done  # n3 need not answer: only one node had the files

    result = asked.result()
    assert result.outcome is Outcome.FAILED and result.error == WHY
    assert result.stdout_hash is not None


def test_without_the_output_the_error_says_what_each_node_answered(tmp_path: Path):
    spec = dead_task(refusing_datastore(tmp_path))
    asked = salvage(spec)
    asked.answered("n2", None)
    with pytest.raises(DatastoreError) as refused:
        salvage_logs(spec)
    asked.failed("n3", refused.value)
    assert not asked.done  # n1 has not answered yet

    result = asked.result()  # settled at its deadline
    assert result.stdout_hash is None and result.stderr_hash is None
    assert result.error is not None and result.error.startswith(WHY)
    assert "its output could not be recovered: " in result.error
    assert "node n3 at 10.0.0.3: DatastoreError: cannot write to the datastore" in result.error
    assert "Not a directory" in result.error  # the filesystem's own reason
    assert f"node n1 at 10.0.0.1: no answer within {SALVAGE_TIMEOUT_SECONDS:g}s" in result.error
    assert "node n2" not in result.error  # it answered: it had nothing
    task_log_files(spec).remove()
