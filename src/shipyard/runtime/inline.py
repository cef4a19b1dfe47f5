"""The inline executor: every task runs in the runner's own process, one after another.

`python flow.py run --executor inline` is for debugging: a `breakpoint()` or an IDE
breakpoint inside a step stops right there, with the terminal still the terminal. So the
standard streams are not redirected; what Python code prints is copied into the task's
logs as it goes to the terminal (`capture.teed`), and output that C code writes straight to
the file descriptors is not in the stored logs.

The flow class is the one the runner imported, so breakpoints set in the flow file hit.
After each task the environment, working directory, signal handlers and alarm timer are
put back; module-level state a step changes stays, as it would not with forked tasks.
`@timeout` works (SIGALRM in the main thread), but a step stuck in C code past it cannot be
killed: there is no other process to kill. Ctrl-C inside a step fails that task, as an
exception raised there would.

GPUs are counted as for the local executor (`--gpus`, else detected when a step asks for
one), but not assigned: a task runs in the runner, where CUDA reads `CUDA_VISIBLE_DEVICES`
once, so every task sees every GPU the runner sees. With one task at a time, a task asking
for k GPUs does have them all to itself.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections import deque
from dataclasses import replace
from pathlib import Path

from shipyard.datastore.artifacts import ArtifactStore
from shipyard.datastore.blobs import BlobStore
from shipyard.exceptions import ShipyardError
from shipyard.flow.graph import FlowGraph, NodeKind
from shipyard.flow.spec import FlowSpec
from shipyard.runtime.capture import LogFiles, teed
from shipyard.runtime.gpus import MachineGpus
from shipyard.runtime.local import machine_limits
from shipyard.runtime.process_state import restored_process_state
from shipyard.runtime.resources import ExecutorLimits, check_requests_fit
from shipyard.runtime.spec import TaskResult, TaskSpec
from shipyard.runtime.workdirs import make_workdir
from shipyard.runtime.worker import run_task


class InlineExecutor:
    """Runs each submitted task, in submission order, when the scheduler waits for one.

    Requests are checked against this machine as with the local executor (`max_workers`
    CPUs, `max_memory_mb`, `gpus`), but only one task runs at a time.
    """

    description = "this process (inline, one task at a time)"

    def __init__(
        self,
        flow_class: type[FlowSpec],
        blobs: BlobStore,
        max_workers: int | None = None,
        max_memory_mb: int | None = None,
        gpus: int | None = None,
        strict_resources: bool = False,
    ) -> None:
        self._flow_class = flow_class
        self._blobs = blobs
        self._store = ArtifactStore(blobs)
        self._gpus = MachineGpus(gpus)
        self._limits = machine_limits(
            max_workers, max_memory_mb, len(self._gpus.ids), 1, strict_resources
        )
        self._queue: deque[TaskSpec] = deque()
        self._workdir: Path | None = None

    @property
    def datastore_url(self) -> str:
        return self._blobs.url

    @property
    def limits(self) -> ExecutorLimits:
        return self._limits

    def start(self) -> None:
        self._workdir = make_workdir("inline")

    def check_requests(self, graph: FlowGraph) -> None:
        """Count the GPUs if a step asks for one (and none were declared), then check."""
        gangs = [node.name for node in graph if node.kind is NodeKind.PARALLEL]
        if gangs:
            raise ShipyardError(
                f"step '{gangs[0]}' starts a @parallel gang, whose tasks must run at the same "
                f"time; the inline executor runs one task at a time. Use --executor local"
            )
        self._limits = replace(self._limits, gpu=len(self._gpus.look_if_needed(graph)))
        check_requests_fit(graph, self._limits, self.description)

    def submit(self, spec: TaskSpec) -> None:
        self._queue.append(spec)

    def cancel(self, spec: TaskSpec) -> None:
        """Nothing to stop: a task runs to its end inside `wait` (and gangs are refused)."""

    def wait(self, timeout: float | None) -> list[tuple[TaskSpec, TaskResult]]:
        """Run the oldest submitted task to its end (however long it takes) and return it."""
        if not self._queue:
            if timeout:
                time.sleep(timeout)
            return []
        spec = self._queue.popleft()
        return [(spec, self._run(spec))]

    def _run(self, spec: TaskSpec) -> TaskResult:
        assert self._workdir is not None, "start() the executor first"
        logs = LogFiles.in_folder(self._workdir, spec.key)
        try:
            with restored_process_state():
                return run_task(spec, logs, self._flow_class, self._store, capture=teed)
        finally:
            logs.remove()

    def shutdown(self) -> None:
        self._queue.clear()
        if self._workdir is not None:
            with contextlib.suppress(OSError):
                shutil.rmtree(self._workdir)
            self._workdir = None
