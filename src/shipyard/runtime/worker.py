"""The task entrypoint: run one task from its JSON spec, in whatever process calls it.

From a shell (a fresh interpreter, another environment, a container)::

    python -m shipyard.runtime.worker SPEC_JSON RESULT_JSON [--stdout PATH] [--stderr PATH]

reads a `TaskSpec` document (`TaskSpec.to_json`) from SPEC_JSON, imports the flow from the
run's code snapshot in the datastore (`code_hash`), runs the step with its stdout and
stderr captured at the descriptor level, stores the two logs as blobs and writes the
`TaskResult` document to RESULT_JSON atomically (a temporary name, then renamed). The exit
status is 0 when the task succeeded, 1 when it failed and 2 when SPEC_JSON cannot be read
as a task spec; without a result file the task died before finishing. The logs are written
to `--stdout`/`--stderr` while the task runs (default: a folder per run under the system's
temporary directory, `task_log_files`), so whoever started a task that died can still
store what it printed.

The process needs Shipyard importable and the datastore reachable; it never opens the
metadata database: the scheduler records the result. Ray workers call `run_task_json`, the
function behind the command, in-process (they already are interpreters of their own), and
the local executor's forked workers call `run_task` with the flow they already imported.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path

from shipyard.datastore.artifacts import ArtifactStore
from shipyard.datastore.blobs import BlobStore
from shipyard.exceptions import DatastoreError
from shipyard.flow.spec import FlowSpec
from shipyard.runtime.capture import LogFiles, captured
from shipyard.runtime.snapshot import import_flow
from shipyard.runtime.spec import Outcome, TaskResult, TaskSpec
from shipyard.runtime.task import execute_task, user_traceback


def run_task(
    spec: TaskSpec,
    logs: LogFiles,
    flow_class: type[FlowSpec] | None = None,
    store: ArtifactStore | None = None,
    capture: Callable[[LogFiles], AbstractContextManager[None]] = captured,
) -> TaskResult:
    """Run one task with its output captured into `logs`, then store the logs as blobs.

    `flow_class` is the flow when this process has it already (a fork of the runner, the
    runner itself); otherwise it is imported from the run's code snapshot. `store` is the
    run's artifact store when this process has one open already (opening one costs a forked
    task more than its step, in URL parsing and the pages it copies); otherwise it is opened
    from the spec. `capture` sends the output to `logs`: at the descriptor level by default,
    `capture.teed` where the task shares the runner's terminal. Never raises for the user's
    errors: they make a failed result; nor when the datastore refuses the logs (see
    `TaskResult.storage_failed`).
    """
    store = store or ArtifactStore(BlobStore(spec.datastore_url))
    blobs = store.blobs
    with capture(logs):
        try:
            flow = flow_class or import_flow(blobs, spec.code_hash, spec.flow_name)
        except BaseException as exc:  # SystemExit too: a flow file that runs its CLI on import
            error = f"could not import the flow from the run's code snapshot: {user_traceback(exc)}"
            sys.stderr.write(error)
            result = TaskResult(Outcome.FAILED, error=error)
        else:
            result = execute_task(flow, spec, store)
    try:
        stdout_hash, stderr_hash = logs.store(blobs)
    except DatastoreError as exc:
        result, stdout_hash, stderr_hash = result.storage_failed(exc), None, None
    return replace(
        result,
        exit_code=exit_status(result),
        stdout_hash=stdout_hash,
        stderr_hash=stderr_hash,
        host=socket.gethostname(),
    )


def run_task_json(spec_json: str, stdout: Path | None = None, stderr: Path | None = None) -> str:
    """The entrypoint as text: a `TaskSpec` JSON document in, a `TaskResult` document out.

    Output goes to `stdout`/`stderr` if given (the caller removes them), else to the task's
    files under `task_log_files`, removed here once stored.
    """
    spec = TaskSpec.from_json(json.loads(spec_json))
    return json.dumps(_run_with_log_paths(spec, stdout, stderr).to_json())


def _run_with_log_paths(spec: TaskSpec, stdout: Path | None, stderr: Path | None) -> TaskResult:
    default = task_log_files(spec)
    logs = LogFiles(stdout or default.stdout, stderr or default.stderr)
    result = run_task(spec, logs)
    for given, path in ((stdout, logs.stdout), (stderr, logs.stderr)):
        if given is None:  # the run's folder stays: another task of the run may write there
            path.unlink(missing_ok=True)
    return result


def task_log_files(spec: TaskSpec) -> LogFiles:
    """Where a task's output goes by default: a known place, so it outlives a dead process.

    Run ids are unique within one datastore only, so the datastore is part of the name.
    """
    store = hashlib.sha256(spec.datastore_url.encode()).hexdigest()[:12]
    folder = Path(tempfile.gettempdir(), "shipyard-logs", f"{store}-{spec.flow_name}-{spec.run_id}")
    return LogFiles.in_folder(folder, spec.key)


def exit_status(result: TaskResult) -> int:
    """The exit status a task process leaves with: 0 when it succeeded, else 1."""
    return 0 if result.outcome is Outcome.SUCCEEDED else 1


def write_result(path: Path, result_json: str) -> None:
    """Write a result where its reader finds it whole or not at all (temporary, then rename)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(result_json)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    import argparse  # here, not above: forked workers import this module and never parse

    parser = argparse.ArgumentParser(
        prog="python -m shipyard.runtime.worker",
        description="Run one Shipyard task from its JSON spec and write its JSON result.",
    )
    parser.add_argument("spec", type=Path, help="the TaskSpec JSON document to run")
    parser.add_argument("result", type=Path, help="where to write the TaskResult JSON document")
    parser.add_argument("--stdout", type=Path, help="the task's stdout file while it runs")
    parser.add_argument("--stderr", type=Path, help="the task's stderr file while it runs")
    args = parser.parse_args(argv)
    try:
        spec = TaskSpec.from_json(json.loads(args.spec.read_text()))
    except OSError as exc:
        parser.exit(2, f"error: cannot read the task spec {args.spec}: {exc.strerror}\n")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        parser.exit(
            2,
            f"error: {args.spec} is not a task spec document (as TaskSpec.to_json writes): "
            f"{type(exc).__name__}: {exc}\n",
        )
    result = _run_with_log_paths(spec, args.stdout, args.stderr)
    write_result(args.result, json.dumps(result.to_json()))
    return exit_status(result)


if __name__ == "__main__":
    sys.exit(main())
