"""The local executor: warm workers forked from a fork server, and spawned workers where
forking is unsafe.

The fork server is forked from the runner right after the flow was imported and before
any thread or database connection exists. It forks warm workers from itself, so a worker
starts in a millisecond with the user's imports already done; each worker runs task after
task (`pool.serve`), as Ray's reused workers do, until it leaves (after a failed task, after
`pool.TASKS_PER_WORKER` tasks, or once it holds much more memory than it started with) and a
new fork takes its place. A crash in user code (segfault, `os._exit`) only ends that
worker: the task it ran fails, and the next task gets a new worker. Environment, working
directory, signal handlers and timers are put back after each task; module-level state a
step changes stays for the next task of that worker.

Tasks that must not be forked run in spawned warm workers instead (`runtime.pool`): a task
that asks for a GPU, one that asks for a fresh interpreter, and every task when the run uses
`--start-method spawn` (the default on macOS) or the runner has CUDA initialised
(`runtime.start_method`). The executor gives each GPU task specific GPUs, free ones, through
`CUDA_VISIBLE_DEVICES`, and takes them back when the task is collected; a task that asks for
no GPU keeps the runner's `CUDA_VISIBLE_DEVICES` (it is not hidden from CPU steps, which may
well use a GPU without asking for one, as they could outside Shipyard).

A task costs no file created or deleted (on ext4, creating files while others are being
deleted cost more than the rest of a small task): it hands its result back through its
worker's connection, and its output goes to the log files of its slot, which the next task
of the slot reuses once the executor has emptied them.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, Pipe, wait
from pathlib import Path

from shipyard.config import Config
from shipyard.datastore.artifacts import ArtifactStore
from shipyard.datastore.blobs import BlobStore
from shipyard.exceptions import DatastoreError
from shipyard.flow.graph import FlowGraph
from shipyard.flow.spec import FlowSpec
from shipyard.runtime.capture import LogFiles
from shipyard.runtime.gpus import MachineGpus
from shipyard.runtime.pool import TASKS_PER_WORKER, WorkerPool, serve
from shipyard.runtime.resources import ExecutorLimits, check_requests_fit
from shipyard.runtime.spec import Outcome, TaskResult, TaskSpec
from shipyard.runtime.start_method import StartMethod
from shipyard.runtime.workdirs import make_workdir


class LocalExecutor:
    """Runs up to `max_workers` tasks at once, forked from a warm server or in spawned workers.

    `gpus` declares how many GPUs tasks may use (None: detected when a step asks for one);
    `start_method` is how CPU tasks start (None: SHIPYARD_START_METHOD, else this platform's
    default).
    """

    def __init__(
        self,
        flow_class: type[FlowSpec],
        blobs: BlobStore,
        max_workers: int | None,
        max_memory_mb: int | None = None,
        gpus: int | None = None,
        start_method: StartMethod | None = None,
        strict_resources: bool = False,
    ) -> None:
        self._flow_class = flow_class
        self._blobs = blobs
        self._gpus = MachineGpus(gpus)
        self._limits = machine_limits(
            max_workers, max_memory_mb, len(self._gpus.ids), strict_resources=strict_resources
        )
        self._start_method = start_method or StartMethod.named(Config.current().start_method)
        self._workdir = make_workdir("tasks")
        self._host = socket.gethostname()
        self._running: dict[str, TaskSpec] = {}
        #: The slot (see _SlotFiles) of each running task; freed once the task is collected.
        self._slots: dict[str, int] = {}
        self._free_slots: list[int] = []
        #: GPU ids no running task holds, and those each running GPU task holds.
        self._free_gpus = list(self._gpus.ids)
        self._gpus_held: dict[str, tuple[str, ...]] = {}
        self._requests: Connection | None = None
        self._events: Connection | None = None
        self._server_pid: int | None = None
        #: Spawned workers, started on the first task that needs one.
        self._pool: WorkerPool | None = None

    description = "the local executor"

    @property
    def datastore_url(self) -> str:
        return self._blobs.url

    @property
    def limits(self) -> ExecutorLimits:
        return self._limits

    def check_requests(self, graph: FlowGraph) -> None:
        """Look for GPUs if a step asks for one (and none were declared), then check."""
        if not self._gpus.ids:  # none declared: detected now if needed, before any task runs
            self._free_gpus = list(self._gpus.look_if_needed(graph))
            self._limits = replace(self._limits, gpu=len(self._free_gpus))
        check_requests_fit(graph, self._limits, self.description)

    def start(self) -> None:
        """Fork the fork server, unless tasks are spawned: then workers start on demand."""
        self._start_method = self._start_method.in_this_process()
        if self._start_method is StartMethod.FORK:
            self._start_fork_server()

    def _start_fork_server(self) -> None:
        request_reader, request_writer = Pipe(duplex=False)
        event_reader, event_writer = Pipe(duplex=False)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the fork server
            request_writer.close()
            event_reader.close()
            code = 0
            try:
                store = ArtifactStore(self._blobs)
                server = _ForkServer(
                    self._flow_class, store, self._workdir, request_reader, event_writer
                )
                server.serve()
            except BaseException:
                code = 1
            os._exit(code)
        request_reader.close()
        event_writer.close()
        self._requests = request_writer
        self._events = event_reader
        self._server_pid = pid

    def submit(self, spec: TaskSpec) -> None:
        slot = self._free_slots.pop() if self._free_slots else len(self._slots)
        # Emptied here rather than where the task starts, so that a runner following the
        # slot's files (`live_logs`) never reads the previous task's output as this one's.
        _SlotFiles(self._workdir, slot).empty_logs()
        self._slots[spec.key] = slot
        self._running[spec.key] = spec
        if self._requests is not None and not spec.resources.gpu and not spec.fresh_interpreter:
            self._requests.send((spec, slot))
        else:
            self._spawn(spec, slot)

    def cancel(self, spec: TaskSpec) -> None:
        """Kill the task's process: its spawned worker, or through the fork server."""
        if self._pool is not None and spec.key in self._pool.running:
            self._pool.kill(spec.key)
        elif self._requests is not None and spec.key in self._running:
            self._requests.send(spec.key)

    def _spawn(self, spec: TaskSpec, slot: int) -> None:
        """Run the task in a spawned worker, with its own GPUs if it asks for any."""
        if self._pool is None:
            self._pool = WorkerPool(self._limits.max_tasks)
        gpus = self._take_gpus(spec, self._pool) if spec.resources.gpu else None
        self._pool.run(spec, _SlotFiles(self._workdir, slot).logs, gpus)

    def live_logs(self, spec: TaskSpec) -> LogFiles | None:
        """The files of the task's slot while it runs (see `runtime.log_echo`)."""
        slot = self._slots.get(spec.key)
        return None if slot is None else _SlotFiles(self._workdir, slot).logs

    def _take_gpus(self, spec: TaskSpec, pool: WorkerPool) -> tuple[str, ...]:
        """Free GPUs for the task: a set an idle worker holds if any (it is warm), else the
        first free ones. The scheduler submits a task only once that many are free."""
        count = spec.resources.gpu
        free = set(self._free_gpus)
        warm = [ids for ids in pool.warm_gpu_sets(count) if free.issuperset(ids)]
        taken = warm[0] if warm else tuple(self._free_gpus[:count])
        assert len(taken) == count, f"{spec.key} asks for {count} GPUs, {len(free)} are free"
        self._free_gpus = [gpu for gpu in self._free_gpus if gpu not in taken]
        self._gpus_held[spec.key] = taken
        return taken

    def _give_back_gpus(self, key: str) -> None:
        held = self._gpus_held.pop(key, ())
        if held:
            order = self._gpus.ids
            self._free_gpus = sorted([*self._free_gpus, *held], key=order.index)

    def wait(self, timeout: float | None) -> list[tuple[TaskSpec, TaskResult]]:
        finished: list[tuple[TaskSpec, TaskResult]] = []
        if self._pool is None and self._events is not None:
            # Only forked tasks so far: the fork server's events are all there is to wait on.
            if wait([self._events], timeout):
                self._read_fork_events(finished)
            return finished
        until = None if timeout is None else time.monotonic() + timeout
        while True:
            pool = self._pool
            sources: list[Connection] = [] if self._events is None else [self._events]
            if pool is not None:
                pool.kill_overdue()
                sources += pool.connections
            ready = wait(sources, _earliest(until, pool))
            if self._events is not None and self._events in ready:
                self._read_fork_events(finished)
            if pool is not None:
                for key, exit_code, result_json in pool.ended(ready):
                    self._give_back_gpus(key)
                    spec = self._running.pop(key)
                    finished.append((spec, self._collect(spec, exit_code, result_json)))
            if finished or (until is not None and time.monotonic() >= until):
                return finished

    def _read_fork_events(self, finished: list[tuple[TaskSpec, TaskResult]]) -> None:
        assert self._events is not None
        while self._events.poll():
            try:
                key, exit_code, result_json = self._events.recv()
            except EOFError:
                finished.extend(self._server_died())
                break
            spec = self._running.pop(key)
            finished.append((spec, self._collect(spec, exit_code, result_json)))

    def _server_died(self) -> list[tuple[TaskSpec, TaskResult]]:
        """Fail the tasks the fork server ran; later tasks go to spawned workers."""
        spawned = self._pool.running if self._pool is not None else set()
        lost = [
            (spec, TaskResult(Outcome.FAILED, error="the local fork server died unexpectedly\n"))
            for key, spec in self._running.items()
            if key not in spawned
        ]
        for spec, _ in lost:
            del self._running[spec.key]
            self._free_slots.append(self._slots.pop(spec.key))
        for connection in (self._requests, self._events):
            if connection is not None:
                connection.close()
        self._requests = self._events = None
        return lost

    def _collect(self, spec: TaskSpec, exit_code: int, result_json: bytes) -> TaskResult:
        """Turn what a finished task process left behind into a result with stored logs.

        A task that finished stored its own logs and handed over its whole result; one that
        died handed over nothing or a result cut short (a JSON object cut short never
        parses: its closing brace comes last) and left its logs in its slot's files.
        """
        slot = self._slots.pop(spec.key)
        try:
            result = TaskResult.from_json(json.loads(result_json))
        except ValueError:
            result = TaskResult(Outcome.FAILED, error=_describe_death(exit_code))
            try:
                stdout_hash, stderr_hash = _SlotFiles(self._workdir, slot).logs.store(self._blobs)
            except DatastoreError as exc:
                result = result.storage_failed(exc)
            else:
                result = replace(result, stdout_hash=stdout_hash, stderr_hash=stderr_hash)
        self._free_slots.append(slot)  # only now: the next task of the slot empties its logs
        return replace(result, exit_code=exit_code, host=self._host)

    def shutdown(self) -> None:
        if self._requests is not None:
            with contextlib.suppress(OSError):
                self._requests.send(None)
            self._requests.close()
            self._requests = None
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        if self._server_pid is not None:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self._server_pid, 0)
            self._server_pid = None
        if self._events is not None:
            self._events.close()
            self._events = None
        for leftover in self._workdir.glob("*"):
            leftover.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self._workdir.rmdir()


def _earliest(until: float | None, pool: WorkerPool | None) -> float | None:
    """Seconds to wait: until the caller's time is up or the next task deadline, if any."""
    limits = [] if until is None else [max(0.0, until - time.monotonic())]
    deadline = pool.until_next_deadline() if pool is not None else None
    if deadline is not None:
        limits.append(deadline)
    return min(limits) if limits else None


def machine_limits(
    max_workers: int | None,
    max_memory_mb: int | None,
    gpus: int,
    max_tasks: int | None = None,
    strict_resources: bool = False,
) -> ExecutorLimits:
    """What tasks on this machine may use at once: `max_workers` CPUs (default: all of them),
    `max_memory_mb` (default: all memory) and `gpus`; at most `max_tasks` (default:
    `max_workers`) tasks at a time. A larger request runs capped, unless `strict_resources`."""
    cpus = max_workers or os.cpu_count() or 1
    if cpus < 1:
        raise ValueError("--max-workers must be at least 1")
    return ExecutorLimits(
        cpu=cpus,
        memory=max_memory_mb or _physical_memory_mb(),
        gpu=gpus,
        max_tasks=max_tasks or cpus,
        caps_requests=not strict_resources,
    )


def _physical_memory_mb() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 20)


def _describe_death(exit_code: int) -> str:
    if exit_code < 0:
        name = signal.Signals(-exit_code).name
        return f"the task process was killed by signal {name}\n"
    return f"the task process exited with code {exit_code} before finishing the step\n"


class _SlotFiles:
    """The files of a slot: where the task running in it writes its logs.

    A slot is one of the executor's places for a running task; when a task ends, the next
    task takes its slot and the same files, which the executor empties when it submits it.
    """

    def __init__(self, workdir: Path, slot: int) -> None:
        self.logs = LogFiles.in_folder(workdir, str(slot))

    def empty_logs(self) -> None:
        """Empty (or create) the logs for the slot's next task. Done before the task starts,
        so that one dying before it redirects its output shows no logs of the task before."""
        for path in (self.logs.stdout, self.logs.stderr):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644))


class _ForkServer:
    """Single-threaded loop in the warm process: forks warm workers, hands each task to one.

    A worker is forked from this process (so it starts in a millisecond, with the flow and
    the datastore already open) and runs task after task (`pool.serve`) until it leaves; then
    the next task gets a new fork. Reusing the process costs a task a message instead of a
    fork, the copy-on-write faults after it and an exit (about 5 of the 7 CPU-ms a forked
    task took, docs/architecture.md).
    """

    def __init__(
        self,
        flow_class: type[FlowSpec],
        store: ArtifactStore,
        workdir: Path,
        requests: Connection,
        events: Connection,
    ) -> None:
        self.flow_class = flow_class
        #: Opened once, here, and inherited by every forked worker.
        self.store = store
        self.workdir = workdir
        self.requests = requests
        self.events = events
        self.workers: dict[int, _ForkedWorker] = {}
        #: pid -> monotonic time after which the worker's task is killed (@timeout + grace).
        self.deadlines: dict[int, float] = {}
        self.wake_reader, self.wake_writer = os.pipe()

    def serve(self) -> None:
        # Objects that exist now are shared with every worker; keeping the cyclic garbage
        # collector off them stops it from touching (and so copying) their pages.
        gc.freeze()
        os.set_blocking(self.wake_writer, False)
        os.set_blocking(self.wake_reader, False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(self.wake_writer, warn_on_full_buffer=False)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner decides what Ctrl-C means
        accepting = True
        while accepting or self._busy():
            busy = [w.connection for w in self._busy()]
            sources = [self.requests, self.wake_reader] if accepting else [self.wake_reader]
            ready = wait([*sources, *busy], self._until_next_deadline())
            self._kill_overdue()
            if self.requests in ready:
                accepting = self._accept()
            for worker in self._busy():
                if worker.connection in ready:
                    self._read_answer(worker)
            if self.wake_reader in ready:
                with contextlib.suppress(BlockingIOError):
                    os.read(self.wake_reader, 4096)
            self._reap()
        self._stop_idle()

    def _busy(self) -> list[_ForkedWorker]:
        return [w for w in self.workers.values() if w.key is not None]

    def _accept(self) -> bool:
        try:
            request: tuple[TaskSpec, int] | str | None = self.requests.recv()
        except EOFError:  # the runner is gone: nobody will record these tasks
            for pid in self.workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            return False
        if request is None:
            return False
        if isinstance(request, str):  # the runner cancels the task with this key
            for pid, worker in self.workers.items():
                if worker.key == request:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            return True
        spec, slot = request
        worker = next((w for w in self.workers.values() if w.idle), None) or self._fork()
        worker.key = spec.key
        if spec.kill_after_seconds is not None:
            self.deadlines[worker.pid] = time.monotonic() + spec.kill_after_seconds
        with contextlib.suppress(OSError):  # it died already: `_reap` reports the task
            worker.connection.send((spec, _SlotFiles(self.workdir, slot).logs))
        return True

    def _fork(self) -> _ForkedWorker:
        ours, theirs = Pipe()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                ours.close()
                self._leave_to_worker()
                serve(theirs, self.flow_class, self.store, TASKS_PER_WORKER)
            except BaseException:
                code = 1
            finally:
                with contextlib.suppress(Exception):
                    sys.stdout.flush()
                    sys.stderr.flush()
                os._exit(code)
        theirs.close()
        worker = self.workers[pid] = _ForkedWorker(pid, ours)
        return worker

    def _leave_to_worker(self) -> None:
        """In a new worker: drop what belongs to this server. A worker holding the server's
        ends of other workers' connections, or of the runner's, would keep them from seeing
        the end of it."""
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        for fd in (self.wake_reader, self.wake_writer):
            os.close(fd)
        others = [w.connection for w in self.workers.values()]
        for connection in (self.requests, self.events, *others):
            connection.close()

    def _read_answer(self, worker: _ForkedWorker) -> None:
        """Pass a worker's answer to the runner; one that died is left to `_reap`."""
        try:
            code, result, leaving = worker.connection.recv()
        except (EOFError, OSError):
            return
        self.events.send((worker.key, code, result))
        self.deadlines.pop(worker.pid, None)
        worker.key = None
        worker.leaving = leaving

    def _until_next_deadline(self) -> float | None:
        if not self.deadlines:
            return None
        return max(0.0, min(self.deadlines.values()) - time.monotonic())

    def _kill_overdue(self) -> None:
        """A step stuck where Python cannot interrupt it is killed once past its deadline."""
        now = time.monotonic()
        for pid, deadline in list(self.deadlines.items()):
            if now >= deadline:
                del self.deadlines[pid]
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def _reap(self) -> None:
        """Collect ended workers; one that ended inside a task is that task's death."""
        while self.workers:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            worker = self.workers.pop(pid, None)
            self.deadlines.pop(pid, None)
            if worker is None:
                continue
            if worker.key is not None and worker.connection.poll():
                self._read_answer(worker)  # it answered, then ended before it was read
            if worker.key is not None:
                self.events.send((worker.key, os.waitstatus_to_exitcode(status), b""))
            worker.connection.close()

    def _stop_idle(self) -> None:
        """The runner is done: end the idle workers, which run nothing and hold nothing."""
        for pid, worker in self.workers.items():
            worker.connection.close()
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in list(self.workers):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


@dataclass
class _ForkedWorker:
    """A warm worker as the fork server follows it."""

    pid: int
    connection: Connection
    #: The key of the task it runs; None while idle.
    key: str | None = None
    #: It said it leaves after its last task: it takes no other.
    leaving: bool = False

    @property
    def idle(self) -> bool:
        return self.key is None and not self.leaving
