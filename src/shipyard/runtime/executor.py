"""The executor contract: the scheduler submits tasks and collects their results, nothing more."""

from __future__ import annotations

from typing import Protocol

from shipyard.runtime.resources import ExecutorLimits
from shipyard.runtime.spec import TaskResult, TaskSpec


class Executor(Protocol):
    """Runs tasks somewhere (forked local workers, a Ray cluster) and reports them back.

    `start` is called before the scheduler starts any thread or opens the metadata store,
    so that an executor may fork.
    """

    @property
    def limits(self) -> ExecutorLimits:
        """What may run at once: CPUs, memory, GPUs and a cap on concurrent tasks."""
        ...

    def start(self) -> None: ...

    def submit(self, spec: TaskSpec) -> None: ...

    def wait(self, timeout: float | None) -> list[tuple[TaskSpec, TaskResult]]:
        """Block until at least one task ended (or `timeout` seconds passed); return those."""
        ...

    def shutdown(self) -> None:
        """Stop every task still running and release workers."""
        ...
