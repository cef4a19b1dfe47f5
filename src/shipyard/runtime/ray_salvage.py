"""Recovering what a Ray task printed before its worker died.

A task on Ray writes its output to known files on its node (`task_log_files`) and stores
them itself when it ends. When its worker dies instead (the step crashed, was killed for
memory or for overrunning its @timeout, or the whole node was lost), the driver asks the
nodes for those files: a CPU-less task on each node stores what it finds there.

Those requests are collected as they answer, alongside the running tasks, never waited for
in one go: a node that died without Ray knowing yet may take many seconds to fail its
request, and the run goes on meanwhile. Each node's answer counts on its own, so a node that
fails its request (dead, or its datastore refused the logs) never costs the output another
node has stored; and a node known to be dead is not asked at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shipyard.datastore.blobs import BlobStore
from shipyard.runtime.spec import Outcome, TaskResult, TaskSpec
from shipyard.runtime.worker import task_log_files

if TYPE_CHECKING:
    from ray import ObjectRef

__all__ = ["LogSalvage", "LogSalvager", "salvage_logs"]

#: How long to wait for the nodes to hand over a dead task's output before giving up on it.
SALVAGE_TIMEOUT_SECONDS = 30.0

Hashes = tuple[str | None, str | None]


def salvage_logs(spec: TaskSpec) -> Hashes | None:
    """Run on a node after a task's worker died: store the output it left here, if any.

    Raises `DatastoreError` when the datastore refuses the logs; the driver records that as
    this node's answer, and the files stay for another try.
    """
    logs = task_log_files(spec)
    if not logs.exist():
        return None
    hashes = logs.store(BlobStore(spec.datastore_url))
    logs.remove()
    return hashes


@dataclass(eq=False)
class LogSalvage:
    """One dead task's output being recovered: the nodes still to answer, and the answers.

    `nodes` maps each node asked to how messages name it. The first node to hand over the
    output settles it; failures only matter, and are told in the task's error, when no node
    had the output to give.
    """

    spec: TaskSpec
    #: Why the task failed: the start of its error.
    why: str
    nodes: Mapping[str, str]
    deadline: float
    waiting: set[str] = field(init=False)
    found: Hashes | None = None
    failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.waiting = set(self.nodes)

    def answered(self, node_id: str, hashes: Hashes | None) -> None:
        """`node_id` stored the output it had (`hashes`), or had none (None)."""
        self.waiting.discard(node_id)
        if hashes is not None and self.found is None:
            self.found = hashes

    def failed(self, node_id: str, error: BaseException) -> None:
        """`node_id` could not answer: it is gone, or storing the output there failed."""
        self.waiting.discard(node_id)
        first_line = (str(error).strip().splitlines() or [""])[0]
        self.failures.append(f"{self.nodes[node_id]}: {type(error).__name__}: {first_line}")

    @property
    def done(self) -> bool:
        return self.found is not None or not self.waiting

    def result(self) -> TaskResult:
        """The task's failed result, with its output if a node had it, else why not."""
        if self.found is not None:
            stdout_hash, stderr_hash = self.found
            return TaskResult(
                Outcome.FAILED, error=self.why, stdout_hash=stdout_hash, stderr_hash=stderr_hash
            )
        unanswered = [
            f"{self.nodes[node_id]}: no answer within {SALVAGE_TIMEOUT_SECONDS:g}s"
            for node_id in sorted(self.waiting)
        ]
        problems = self.failures + unanswered
        error = self.why
        if problems:
            error += f"its output could not be recovered: {'; '.join(problems)}\n"
        return TaskResult(Outcome.FAILED, error=error)


class LogSalvager:
    """Sends the salvage requests of dead tasks and collects each node's answer as it comes.

    The executor waits on `refs` together with its running tasks and hands the ready ones
    to `collect`; a salvage past its deadline is settled by `expire` with what it has.
    """

    def __init__(self, ray: Any) -> None:
        self._ray = ray
        self._remote = ray.remote(max_retries=0, num_cpus=0)(salvage_logs)
        self._asked: dict[ObjectRef, tuple[LogSalvage, str]] = {}
        self._salvages: list[LogSalvage] = []

    @property
    def refs(self) -> list[ObjectRef]:
        return list(self._asked)

    @property
    def next_deadline(self) -> float | None:
        return min((s.deadline for s in self._salvages), default=None)

    def start(
        self, spec: TaskSpec, why: str, nodes: Mapping[str, str]
    ) -> list[tuple[TaskSpec, TaskResult]]:
        """Ask every node of `nodes` (node id: its name in messages) for `spec`'s output.

        Returns the task's result at once only when there is no node to ask.
        """
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        salvage = LogSalvage(
            spec, why, dict(nodes), deadline=time.monotonic() + SALVAGE_TIMEOUT_SECONDS
        )
        for node_id in nodes:
            strategy = NodeAffinitySchedulingStrategy(node_id, soft=False)
            ref = self._remote.options(scheduling_strategy=strategy).remote(spec)
            self._asked[ref] = (salvage, node_id)
        self._salvages.append(salvage)
        return self._settle(lambda salvage: salvage.done)

    def collect(self, ready: list[ObjectRef]) -> list[tuple[TaskSpec, TaskResult]]:
        """Take the answers among `ready`; the results of the salvages now settled."""
        exceptions = self._ray.exceptions
        for ref in ready:
            asked = self._asked.pop(ref, None)
            if asked is None:
                continue
            salvage, node_id = asked
            try:
                hashes = self._ray.get(ref)
            except exceptions.RayTaskError as exc:  # salvage_logs raised: e.g. DatastoreError
                salvage.failed(node_id, exc.cause if exc.cause is not None else exc)
            except exceptions.RayError as exc:  # the node is gone, or never ran the request
                salvage.failed(node_id, exc)
            else:
                salvage.answered(node_id, hashes)
        return self._settle(lambda salvage: salvage.done)

    def expire(self) -> list[tuple[TaskSpec, TaskResult]]:
        """Settle the salvages past their deadline with what their nodes have answered."""
        now = time.monotonic()
        return self._settle(lambda salvage: salvage.done or now >= salvage.deadline)

    def _settle(self, over: Callable[[LogSalvage], bool]) -> list[tuple[TaskSpec, TaskResult]]:
        settled = [s for s in self._salvages if over(s)]
        for salvage in settled:
            self._salvages.remove(salvage)
            self._forget(salvage)
        return [(s.spec, s.result()) for s in settled]

    def _forget(self, salvage: LogSalvage) -> None:
        """Stop waiting for the salvage's other nodes: only one node had the output, and a
        request pending on a lost node fails by itself once Ray notices."""
        for ref in [r for r, (s, _) in self._asked.items() if s is salvage]:
            del self._asked[ref]

    def clear(self) -> None:
        self._asked.clear()
        self._salvages.clear()
