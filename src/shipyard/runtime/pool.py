"""Spawned warm workers: new interpreters that import the flow once and run task after task.

Where forking is unsafe (a GPU step, CUDA initialised in the runner, macOS, or
`--start-method spawn`) the local executor runs tasks here. Each worker is a new interpreter
started by exec::

    python -m shipyard.runtime.pool FD

so it inherits no CUDA context, thread or lock from the runner, only its environment; FD is
its end of a socket to the runner. It imports the flow from the run's code snapshot on its
first task and keeps it, so later tasks start as soon as their spec arrives (as Ray's reused
workers do), and each task leaves the process as it found it (`restored_process_state`);
module-level state a step changes stays for the next task of that worker.

A worker is started with a fixed `CUDA_VISIBLE_DEVICES`, since CUDA reads it once: the GPUs
of the task it was started for, or the runner's own value for a task that asks for none. It
only ever runs tasks given exactly those GPUs. A task asking for a fresh interpreter gets a
worker of its own that ends with it. The pool never holds more processes than the executor
runs tasks at once: an idle worker started for other GPUs is stopped to make room.

A worker's stdout and stderr are the log files of the task it was started for, so an
interpreter that fails before running it leaves its error in that task's logs; once it is up
they point to /dev/null, and each task's output goes to its own log files (`captured`). A
task whose deadline passed is killed with its worker; a worker that died is a task that
died, described by its exit status as for a forked task.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Collection
from dataclasses import dataclass
from multiprocessing.connection import Connection, Pipe

from shipyard.datastore.artifacts import ArtifactStore
from shipyard.datastore.blobs import BlobStore
from shipyard.exceptions import ShipyardError
from shipyard.flow.spec import FlowSpec
from shipyard.runtime.capture import LogFiles
from shipyard.runtime.gpus import VISIBLE_DEVICES
from shipyard.runtime.process_state import restored_process_state
from shipyard.runtime.spec import TaskSpec
from shipyard.runtime.worker import exit_status, run_task

#: A task that ended, as a worker reports it: its key, exit status and `TaskResult` JSON
#: (empty, or cut short, when the worker died before sending all of it).
Ended = tuple[str, int, bytes]


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    connection: Connection
    #: The CUDA_VISIBLE_DEVICES it was started with; None: the runner's own.
    gpus: tuple[str, ...] | None
    #: It runs one task (a task that asked for a fresh interpreter), then ends.
    one_shot: bool
    #: The key of the task it runs; None while idle.
    task: str | None = None
    #: Monotonic time after which the task is killed (its @timeout plus grace).
    deadline: float | None = None


class WorkerPool:
    """The runner's side: starts, reuses, kills and reaps at most `max_workers` workers."""

    def __init__(self, max_workers: int) -> None:
        self._max_workers = max_workers
        self._workers: list[_Worker] = []

    def run(self, spec: TaskSpec, logs: LogFiles, gpus: tuple[str, ...] | None) -> None:
        """Send the task to an idle worker started for `gpus`, or to a new one."""
        worker = None if spec.fresh_interpreter else self._idle(gpus)
        if worker is None:
            worker = self._start(logs, gpus, one_shot=spec.fresh_interpreter)
        worker.task = spec.key
        if spec.kill_after_seconds is not None:
            worker.deadline = time.monotonic() + spec.kill_after_seconds
        with contextlib.suppress(OSError):  # it died already; `ended` reports the task
            worker.connection.send((spec, logs))

    def warm_gpu_sets(self, count: int) -> list[tuple[str, ...]]:
        """The GPU sets of `count` GPUs that idle workers hold, to give a task those first."""
        return [
            w.gpus
            for w in self._workers
            if w.task is None and w.gpus is not None and len(w.gpus) == count
        ]

    @property
    def running(self) -> set[str]:
        """The keys of the tasks the workers run now."""
        return {w.task for w in self._workers if w.task is not None}

    @property
    def connections(self) -> list[Connection]:
        """What to wait on: the connections of the workers running a task."""
        return [w.connection for w in self._workers if w.task is not None]

    def until_next_deadline(self) -> float | None:
        deadlines = [w.deadline for w in self._workers if w.deadline is not None]
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None

    def kill_overdue(self) -> None:
        """A step stuck where Python cannot interrupt it is killed once past its deadline."""
        now = time.monotonic()
        for worker in self._workers:
            if worker.deadline is not None and now >= worker.deadline:
                worker.deadline = None
                worker.process.kill()  # its connection ends: `ended` reports the task

    def kill(self, key: str) -> None:
        """Kill the worker running task `key`; `ended` reports the task."""
        for worker in self._workers:
            if worker.task == key:
                worker.process.kill()

    def ended(self, ready: Collection[object]) -> list[Ended]:
        """The tasks whose worker answered or died: its connection is in `ready`, or its
        process ended (a process the step forked may keep the connection open)."""
        finished: list[Ended] = []
        for worker in list(self._workers):
            key = worker.task
            if key is None or (worker.connection not in ready and worker.process.poll() is None):
                continue
            try:
                if not worker.connection.poll():
                    raise EOFError
                code, result, leaving = worker.connection.recv()
            except (EOFError, OSError):
                self._stop([worker])
                finished.append((key, worker.process.returncode, b""))
                continue
            finished.append((key, code, result))
            worker.task, worker.deadline = None, None
            if worker.one_shot or leaving:
                self._stop([worker])
        return finished

    def shutdown(self) -> None:
        """Stop every worker, killing any task still running."""
        self._stop(list(self._workers))

    def _idle(self, gpus: tuple[str, ...] | None) -> _Worker | None:
        for worker in self._workers:
            if worker.task is None and not worker.one_shot and worker.gpus == gpus:
                if worker.process.poll() is None:
                    return worker
                self._stop([worker])  # it died while idle: not a task's death
                return self._idle(gpus)
        return None

    def _start(self, logs: LogFiles, gpus: tuple[str, ...] | None, one_shot: bool) -> _Worker:
        if len(self._workers) >= self._max_workers:
            self._stop([next(w for w in self._workers if w.task is None)])
        ours, theirs = Pipe()
        environ = dict(os.environ)
        if gpus is not None:
            environ[VISIBLE_DEVICES] = ",".join(gpus)
        try:
            with logs.stdout.open("ab") as stdout, logs.stderr.open("ab") as stderr:
                process = subprocess.Popen(
                    [sys.executable, "-m", "shipyard.runtime.pool", str(theirs.fileno())],
                    stdout=stdout,
                    stderr=stderr,
                    pass_fds=(theirs.fileno(),),
                    env=environ,
                )
        except OSError as exc:
            ours.close()
            raise ShipyardError(
                f"could not start a worker interpreter, {sys.executable}: {exc}"
            ) from exc
        finally:
            theirs.close()
        worker = _Worker(process, ours, gpus, one_shot)
        self._workers.append(worker)
        return worker

    def _stop(self, workers: list[_Worker]) -> None:
        """End workers and reap them. Killed, idle ones too: as a forked task leaves through
        os._exit, a worker runs no exit handlers, and the runner does not wait for them."""
        for worker in workers:
            self._workers.remove(worker)
            worker.connection.close()
            worker.process.kill()
        for worker in workers:
            worker.process.wait()


#: A forked warm worker leaves after this many tasks, so that what steps leave behind in it
#: (module state, caches, leaked threads, fragmented memory) stays bounded; a new fork
#: replaces it in a millisecond. A spawned worker has no such bound: replacing it costs an
#: interpreter start and the flow's imports.
TASKS_PER_WORKER = 100
#: It also leaves after a task that left it holding this much more memory than it started
#: with: memory a step freed is often kept by the allocator, away from the next tasks.
RETIRE_AFTER_GROWTH_BYTES = 512 << 20


def serve(
    connection: Connection,
    flow_class: type[FlowSpec] | None = None,
    store: ArtifactStore | None = None,
    max_tasks: int | None = None,
) -> None:
    """A warm worker's loop: run each task it is sent, answer with its result.

    A spawned worker imports the flow from the run's code snapshot and opens the datastore on
    its first task; a worker forked from the fork server has both already (`flow_class`,
    `store`). Each answer is (exit status, `TaskResult` JSON, whether the worker now leaves):
    it leaves after a failed task (whatever the step broke in the process goes with it, and a
    retry starts clean), after `max_tasks` tasks if given, or once it grew by
    `RETIRE_AFTER_GROWTH_BYTES` (since it started, or since its first task for a spawned
    worker, whose first task imports the flow).
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    stores: dict[str, ArtifactStore] = {}
    started_with = _resident_bytes() if flow_class is not None else None
    done = 0
    while True:
        try:
            spec, logs = connection.recv()
        except EOFError:  # the runner is done with this worker, or gone
            return
        task_store = store or stores.get(spec.datastore_url)
        if task_store is None:
            task_store = stores[spec.datastore_url] = ArtifactStore(BlobStore(spec.datastore_url))
        with restored_process_state():
            result = run_task(spec, logs, flow_class, task_store)
        code = exit_status(result)
        done += 1
        resident = _resident_bytes()
        started_with = resident if started_with is None else started_with
        leaving = (
            code != 0 or done == max_tasks or resident - started_with > RETIRE_AFTER_GROWTH_BYTES
        )
        connection.send((code, json.dumps(result.to_json()).encode(), leaving))
        if leaving:
            return


def _resident_bytes() -> int:
    """This process's resident memory now (0 where /proc is not there to tell)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0].isdigit():
        sys.stderr.write(
            "usage: python -m shipyard.runtime.pool FD\n"
            "(started by the local executor; FD is its connection to the runner)\n"
        )
        return 2
    with contextlib.closing(Connection(int(args[0]))) as connection:
        serve(connection)
    return 0


if __name__ == "__main__":
    sys.exit(main())
