"""The task entrypoint: a fresh interpreter runs a task from its JSON spec and the run's code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shipyard.config import Config
from shipyard.datastore.artifacts import ArtifactStore
from shipyard.datastore.blobs import BlobStore
from shipyard.datastore.code import snapshot_code
from shipyard.runtime.spec import InputTask, Outcome, TaskResult, TaskSpec

from ..conftest import FLOWS, Home

FLOW_FILE = FLOWS / "where_flow.py"


@pytest.fixture
def run_id(config: Config, metadata) -> str:
    """A run of WhereFlow as `python where_flow.py run` records it: with its code snapshot."""
    code_hash = BlobStore(config.datastore).put_bytes(snapshot_code(FLOW_FILE))
    return metadata.create_run(
        "WhereFlow", config.user, parameters={"greeting": "hi"}, code_hash=code_hash
    )


def spec_of(config: Config, metadata, run_id: str, step: str, **fields) -> TaskSpec:
    return TaskSpec(
        flow_name="WhereFlow",
        run_id=run_id,
        step_name=step,
        task_id={"start": "1", "end": "2"}[step],
        attempt=fields.pop("attempt", 0),
        inputs=fields.pop("inputs", ()),
        foreach_stack=(),
        datastore_url=str(Path(config.datastore).resolve()),
        username=config.user,
        tags=frozenset({"from-a-test"}),
        parameter_names=frozenset({"greeting"}),
        code_hash=metadata.get_run("WhereFlow", run_id).code_hash,
        **fields,
    )


def run_worker(home: Home, spec: TaskSpec) -> tuple[subprocess.CompletedProcess[str], Path]:
    """`python -m shipyard.runtime.worker SPEC RESULT` in a new interpreter, as a launcher would."""
    spec_file, result_file = home.root / f"{spec.key}.json", home.root / f"{spec.key}.result"
    spec_file.write_text(json.dumps(spec.to_json()))
    done = subprocess.run(
        [sys.executable, "-m", "shipyard.runtime.worker", str(spec_file), str(result_file)],
        env=home.env,
        cwd=home.root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done, result_file


def result_of(result_file: Path) -> TaskResult:
    return TaskResult.from_json(json.loads(result_file.read_text()))


def test_a_fresh_interpreter_runs_a_step_from_the_code_snapshot(home, config, metadata, run_id):
    spec = spec_of(config, metadata, run_id, "start", parameters={"greeting": "hi"})
    done, result_file = run_worker(home, spec)
    assert done.returncode == 0, done.stderr
    result = result_of(result_file)
    assert result.outcome is Outcome.SUCCEEDED and result.exit_code == 0
    store = ArtifactStore(BlobStore(config.datastore))
    assert store.load(result.artifacts["words"]) == ["hi", "world"]
    assert store.load(result.artifacts["greeting"]) == "hi"
    ran = store.load(result.artifacts["start_at"])
    # Imported anew by the worker itself, from the snapshot, not inherited from a runner.
    assert ran["imported_in"] == ran["pid"] != os.getpid()
    assert ran["module"].startswith("_shipyard_flow_")
    assert result.host is not None


def test_the_logs_are_captured_at_the_descriptor_level_and_stored(home, config, metadata, run_id):
    spec = spec_of(config, metadata, run_id, "start", parameters={"greeting": "hi"})
    done, result_file = run_worker(home, spec)
    result = result_of(result_file)
    blobs = BlobStore(config.datastore)
    assert result.stdout_hash and result.stderr_hash
    assert bytes(blobs.get(result.stdout_hash)).decode() == "hi from start\n"
    assert bytes(blobs.get(result.stderr_hash)).decode() == "straight to descriptor 2\n"
    assert done.stdout == done.stderr == ""  # nothing leaks to the launcher's streams


def test_a_later_step_reads_its_inputs_and_a_failure_is_a_result(home, config, metadata, run_id):
    start = spec_of(config, metadata, run_id, "start", parameters={"greeting": "hi"})
    _, start_file = run_worker(home, start)
    upstream = InputTask(start.pathspec, "start", result_of(start_file).artifacts, ())
    store = ArtifactStore(BlobStore(config.datastore))

    first_try = spec_of(config, metadata, run_id, "end", inputs=(upstream,))
    failed, first_file = run_worker(home, first_try)
    first = result_of(first_file)
    assert failed.returncode == 1 and first.outcome is Outcome.FAILED and first.exit_code == 1
    assert first.error.endswith("RuntimeError: the first attempt of end fails\n")
    assert "attempt 0 of end" in bytes(BlobStore(config.datastore).get(first.stdout_hash)).decode()

    again = spec_of(config, metadata, run_id, "end", inputs=(upstream,), attempt=1)
    done, second_file = run_worker(home, again)
    assert done.returncode == 0, done.stderr
    assert store.load(result_of(second_file).artifacts["sentence"]) == "hi world"


def test_a_spec_whose_code_cannot_be_found_fails_with_the_reason(home, config, metadata, run_id):
    spec = spec_of(config, metadata, run_id, "start", parameters={})
    lost = TaskSpec.from_json({**spec.to_json(), "code_hash": "0" * 64})
    done, result_file = run_worker(home, lost)
    result = result_of(result_file)
    assert done.returncode == 1 and result.outcome is Outcome.FAILED
    assert "could not import the flow from the run's code snapshot" in result.error
    stderr = bytes(BlobStore(config.datastore).get(result.stderr_hash)).decode()
    assert "could not import the flow" in stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read the task spec"),
        ("not json", "is not a task spec document"),
        ('{"flow_name": "WhereFlow"}', "is not a task spec document"),
    ],
)
def test_a_spec_that_cannot_be_read_is_one_line_and_exit_2(home: Home, content, message):
    spec_file = home.root / "spec.json"
    if content is not None:
        spec_file.write_text(content)
    done = subprocess.run(
        [sys.executable, "-m", "shipyard.runtime.worker", str(spec_file), str(home.root / "r")],
        env=home.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not (home.root / "r").exists()
