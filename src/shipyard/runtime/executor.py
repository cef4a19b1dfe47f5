"""The executor contract: the scheduler submits tasks and collects their results, nothing more."""

from __future__ import annotations

from typing import Protocol

from shipyard.flow.graph import FlowGraph
from shipyard.runtime.resources import ExecutorLimits
from shipyard.runtime.spec import TaskResult, TaskSpec


class Executor(Protocol):
    """Runs tasks somewhere (this process, forked local workers, a Ray cluster) and reports
    them back. The kinds a run can choose are listed in `runtime.executors`.

    `start` is called before the scheduler starts any thread or opens the metadata store,
    so that an executor may fork. A task that needs another interpreter runs through the
    task entrypoint (`runtime.worker`) from its JSON spec.
    """

    @property
    def description(self) -> str:
        """Where tasks run, for messages: "the local executor", "the Ray cluster at ..."."""
        ...

    @property
    def datastore_url(self) -> str:
        """The datastore as the executor's workers address it (known after `start`)."""
        ...

    @property
    def limits(self) -> ExecutorLimits:
        """What may run at once: CPUs, memory, GPUs and a cap on concurrent tasks."""
        ...

    def start(self) -> None: ...

    def check_requests(self, graph: FlowGraph) -> None:
        """Raise `ShipyardError` if a step asks for more than any worker could ever give.

        Called once, after `start` and before any task; an executor may size its `limits`
        here from what the run needs (the local one looks for GPUs only if a step asks).
        """
        ...

    def submit(self, spec: TaskSpec) -> None: ...

    def cancel(self, spec: TaskSpec) -> None:
        """Stop a submitted task now (a `@parallel` gang whose mate failed); `wait` still
        reports it, failed. An executor that runs each task to its end may do nothing."""
        ...

    def wait(self, timeout: float | None) -> list[tuple[TaskSpec, TaskResult]]:
        """Block until at least one task ended (or `timeout` seconds passed); return those."""
        ...

    def shutdown(self) -> None:
        """Stop every task still running and release workers."""
        ...
