"""The local executor: a warm fork server that forks one process per task, and spawned workers
where forking is unsafe.

The fork server is forked from the runner right after the flow was imported and before
any thread or database connection exists, so each task starts in a millisecond with the
user's imports already done, and a crash in user code (segfault, `os._exit`) only ends
that task's process.

Tasks that must not be forked run in spawned warm workers instead (`runtime.pool`): a task
that asks for a GPU, one that asks for a fresh interpreter, and every task when the run uses
`--start-method spawn` (the default on macOS) or the runner has CUDA initialised
(`runtime.start_method`). The executor gives each GPU task specific GPUs, free ones, through
`CUDA_VISIBLE_DEVICES`, and takes them back when the task is collected; a task that asks for
no GPU keeps the runner's `CUDA_VISIBLE_DEVICES` (it is not hidden from CPU steps, which may
well use a GPU without asking for one, as they could outside Shipyard).

A forked task costs no file created or deleted (on ext4, creating files while others are
being deleted cost more than the rest of a small task): it hands its result back through a
pipe, and its output goes to the log files of its slot, which the next task of the slot
reuses once the fork server has emptied them. Spawned tasks use the slot files alike.
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
from dataclasses import dataclass, field, replace
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
from shipyard.runtime.pool import WorkerPool
from shipyard.runtime.resources import ExecutorLimits, check_requests_fit
from shipyard.runtime.spec import Outcome, TaskResult, TaskSpec
from shipyard.runtime.start_method import StartMethod
from shipyard.runtime.workdirs import make_workdir
from shipyard.runtime.worker import exit_status, run_task


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


@dataclass
class _Child:
    """A running task process as the fork server follows it."""

    key: str
    #: Read end of the pipe the task sends its result through.
    result_fd: int
    result: list[bytes] = field(default_factory=list)
    #: Whether the pipe reached its end, so there is nothing more to read.
    sent: bool = False

    def read_result(self) -> None:
        """Take what the pipe holds now. A pipe buffers only 64 KiB, so this runs whenever data
        arrives, not only once the task has ended."""
        while not self.sent:
            try:
                piece = os.read(self.result_fd, 1 << 16)
            except BlockingIOError:
                return
            if piece:
                self.result.append(piece)
            else:
                self.sent = True

    def ended(self) -> bytes:
        """The task's whole result, or what it sent before it died."""
        # Whatever the task wrote before it ended is in the pipe now. Its end of the pipe
        # may outlive it (in a process it forked), so this reads what is there, not to EOF.
        self.read_result()
        os.close(self.result_fd)
        return b"".join(self.result)


class _ForkServer:
    """Single-threaded loop in the warm process: fork a child per request, report exits."""

    def __init__(
        self,
        flow_class: type[FlowSpec],
        store: ArtifactStore,
        workdir: Path,
        requests: Connection,
        events: Connection,
    ) -> None:
        self.flow_class = flow_class
        #: Opened once, here, and inherited by every forked task.
        self.store = store
        self.workdir = workdir
        self.requests = requests
        self.events = events
        self.children: dict[int, _Child] = {}
        #: pid -> monotonic time after which the task is killed (its @timeout plus grace).
        self.deadlines: dict[int, float] = {}

    def serve(self) -> None:
        # Objects that exist now are shared with every task; keeping the cyclic garbage
        # collector off them stops it from touching (and so copying) their pages per task.
        gc.freeze()
        wake_reader, wake_writer = os.pipe()
        os.set_blocking(wake_writer, False)
        os.set_blocking(wake_reader, False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(wake_writer, warn_on_full_buffer=False)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner decides what Ctrl-C means
        accepting = True
        while accepting or self.children:
            sending = {c.result_fd: c for c in self.children.values() if not c.sent}
            ready = wait(
                [self.requests, wake_reader, *sending] if accepting else [wake_reader, *sending],
                self._until_next_deadline(),
            )
            self._kill_overdue()
            if self.requests in ready:
                accepting = self._accept()
            for fd in ready:
                if isinstance(fd, int) and fd in sending:
                    sending[fd].read_result()
            if wake_reader in ready:
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_reader, 4096)
            self._reap()

    def _accept(self) -> bool:
        try:
            request: tuple[TaskSpec, int] | str | None = self.requests.recv()
        except EOFError:  # the runner is gone: nobody will record these tasks
            for pid in self.children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            return False
        if request is None:
            return False
        if isinstance(request, str):  # the runner cancels the task with this key
            for pid, child in self.children.items():
                if child.key == request:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            return True
        spec, slot = request
        files = _SlotFiles(self.workdir, slot)
        result_reader, result_writer = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(result_reader)
            _run_child(self.flow_class, self.store, spec, files.logs, result_writer)
        os.close(result_writer)
        os.set_blocking(result_reader, False)
        self.children[pid] = _Child(spec.key, result_reader)
        if spec.kill_after_seconds is not None:
            self.deadlines[pid] = time.monotonic() + spec.kill_after_seconds
        return True

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
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            child = self.children.pop(pid, None)
            self.deadlines.pop(pid, None)
            if child is not None:
                code = os.waitstatus_to_exitcode(status)
                self.events.send((child.key, code, child.ended()))


def _run_child(
    flow_class: type[FlowSpec],
    store: ArtifactStore,
    spec: TaskSpec,
    logs: LogFiles,
    result_fd: int,
) -> None:
    """Body of a forked task process; always leaves through os._exit."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        result = run_task(spec, logs, flow_class, store)
        with os.fdopen(result_fd, "wb") as pipe:  # blocks while the pipe is full
            pipe.write(json.dumps(result.to_json()).encode())
        code = exit_status(result)
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
