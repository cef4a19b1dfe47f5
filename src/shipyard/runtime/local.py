"""The local executor: a warm fork server that forks one process per task.

The fork server is forked from the runner right after the flow was imported and before
any thread or database connection exists, so each task starts in a millisecond with the
user's imports already done, and a crash in user code (segfault, `os._exit`) only ends
that task's process.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import socket
import sys
import tempfile
import time
from multiprocessing.connection import Connection, Pipe, wait
from pathlib import Path

from shipyard.datastore.artifacts import ArtifactStore
from shipyard.datastore.blobs import BlobStore
from shipyard.flow.graph import FlowGraph
from shipyard.flow.spec import FlowSpec
from shipyard.runtime.capture import redirect_fd, store_log
from shipyard.runtime.resources import ExecutorLimits, check_requests_fit
from shipyard.runtime.spec import Outcome, TaskResult, TaskSpec
from shipyard.runtime.task import execute_task


class LocalExecutor:
    """Runs up to `max_workers` tasks at once, each in a process forked from a warm server."""

    def __init__(
        self,
        flow_class: type[FlowSpec],
        blobs: BlobStore,
        max_workers: int | None,
        max_memory_mb: int | None = None,
        gpus: int = 0,
    ) -> None:
        max_workers = max_workers or os.cpu_count() or 1
        if max_workers < 1:
            raise ValueError("--max-workers must be at least 1")
        self._flow_class = flow_class
        self._blobs = blobs
        self._limits = ExecutorLimits(
            cpu=max_workers,
            memory=max_memory_mb or _physical_memory_mb(),
            gpu=gpus,
            max_tasks=max_workers,
        )
        self._workdir = Path(tempfile.mkdtemp(prefix="shipyard-tasks-"))
        self._host = socket.gethostname()
        self._running: dict[str, TaskSpec] = {}
        self._requests: Connection | None = None
        self._events: Connection | None = None
        self._server_pid: int | None = None

    description = "the local executor"

    @property
    def datastore_url(self) -> str:
        return self._blobs.url

    @property
    def limits(self) -> ExecutorLimits:
        return self._limits

    def check_requests(self, graph: FlowGraph) -> None:
        check_requests_fit(graph, self._limits, self.description)

    def start(self) -> None:
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
                _ForkServer(self._flow_class, self._workdir, request_reader, event_writer).serve()
            except BaseException:
                code = 1
            os._exit(code)
        request_reader.close()
        event_writer.close()
        self._requests = request_writer
        self._events = event_reader
        self._server_pid = pid

    def submit(self, spec: TaskSpec) -> None:
        assert self._requests is not None, "start() the executor first"
        self._running[spec.key] = spec
        self._requests.send(spec)

    def wait(self, timeout: float | None) -> list[tuple[TaskSpec, TaskResult]]:
        assert self._events is not None, "start() the executor first"
        finished: list[tuple[TaskSpec, TaskResult]] = []
        if not wait([self._events], timeout):
            return finished
        while self._events.poll():
            try:
                key, exit_code = self._events.recv()
            except EOFError:
                finished.extend(self._server_died())
                break
            spec = self._running.pop(key)
            finished.append((spec, self._collect(spec, exit_code)))
        return finished

    def _server_died(self) -> list[tuple[TaskSpec, TaskResult]]:
        lost = [
            (spec, TaskResult(Outcome.FAILED, error="the local fork server died unexpectedly\n"))
            for spec in self._running.values()
        ]
        self._running.clear()
        return lost

    def _collect(self, spec: TaskSpec, exit_code: int) -> TaskResult:
        """Turn what a finished task process left behind into a result with stored logs."""
        paths = _TaskFiles(self._workdir, spec.key)
        stdout_hash = store_log(self._blobs, paths.stdout)
        stderr_hash = store_log(self._blobs, paths.stderr)
        result: TaskResult
        if paths.result.exists():
            with paths.result.open("rb") as fh:
                result = pickle.load(fh)
        else:
            result = TaskResult(Outcome.FAILED, error=_describe_death(exit_code))
        paths.remove()
        return TaskResult(
            outcome=result.outcome,
            artifacts=result.artifacts,
            foreach_num_splits=result.foreach_num_splits,
            error=result.error,
            exit_code=exit_code,
            stdout_hash=stdout_hash,
            stderr_hash=stderr_hash,
            host=self._host,
        )

    def shutdown(self) -> None:
        if self._requests is not None:
            with contextlib.suppress(OSError):
                self._requests.send(None)
            self._requests.close()
            self._requests = None
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


def _physical_memory_mb() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 20)


def _describe_death(exit_code: int) -> str:
    if exit_code < 0:
        name = signal.Signals(-exit_code).name
        return f"the task process was killed by signal {name}\n"
    return f"the task process exited with code {exit_code} before finishing the step\n"


class _TaskFiles:
    """Where a task process leaves its logs and result for the executor to pick up."""

    def __init__(self, workdir: Path, key: str) -> None:
        self.stdout = workdir / f"{key}.stdout"
        self.stderr = workdir / f"{key}.stderr"
        self.result = workdir / f"{key}.result"

    def remove(self) -> None:
        for path in (self.stdout, self.stderr, self.result):
            path.unlink(missing_ok=True)


class _ForkServer:
    """Single-threaded loop in the warm process: fork a child per request, report exits."""

    def __init__(
        self, flow_class: type[FlowSpec], workdir: Path, requests: Connection, events: Connection
    ) -> None:
        self.flow_class = flow_class
        self.workdir = workdir
        self.requests = requests
        self.events = events
        self.children: dict[int, str] = {}
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
            ready = wait(
                [self.requests, wake_reader] if accepting else [wake_reader],
                self._until_next_deadline(),
            )
            self._kill_overdue()
            if self.requests in ready:
                accepting = self._accept()
            if wake_reader in ready:
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_reader, 4096)
            self._reap()

    def _accept(self) -> bool:
        try:
            spec = self.requests.recv()
        except EOFError:  # the runner is gone: nobody will record these tasks
            for pid in self.children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            return False
        if spec is None:
            return False
        pid = os.fork()
        if pid == 0:
            _run_child(self.flow_class, spec, _TaskFiles(self.workdir, spec.key))
        self.children[pid] = spec.key
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
            key = self.children.pop(pid, None)
            self.deadlines.pop(pid, None)
            if key is not None:
                self.events.send((key, os.waitstatus_to_exitcode(status)))


def _run_child(flow_class: type[FlowSpec], spec: TaskSpec, files: _TaskFiles) -> None:
    """Body of a task process; always leaves through os._exit."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        redirect_fd(1, files.stdout)
        redirect_fd(2, files.stderr)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(AttributeError, ValueError):
                stream.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        store = ArtifactStore(BlobStore(spec.datastore_url))
        result = execute_task(flow_class, spec, store)
        tmp = files.result.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            pickle.dump(result, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(files.result)
        code = 0 if result.outcome is Outcome.SUCCEEDED else 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
