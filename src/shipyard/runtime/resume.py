"""Resume: which tasks of an earlier run can be reused instead of run again.

A task is identified across runs by its step and its position in every enclosing foreach,
so the same work has the same identity in the origin run and in the resumed one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shipyard.datastore.refs import ArtifactRef
from shipyard.exceptions import ShipyardError
from shipyard.flow.graph import FlowGraph
from shipyard.flow.parallel import GANG_FRAME_VAR
from shipyard.metadata.liveness import runner_is_alive
from shipyard.metadata.records import ForeachFrame, RunRecord, RunStatus, TaskRecord, TaskStatus

if TYPE_CHECKING:
    from shipyard.metadata.contract import MetadataBackend

TaskKey = tuple[str, tuple[tuple[str, int], ...]]


def task_key(step_name: str, stack: Iterable[ForeachFrame]) -> TaskKey:
    return step_name, tuple((frame.step, frame.index) for frame in stack)


@dataclass(frozen=True)
class ReusableTask:
    """A succeeded task of the origin run, with what its successors need from it."""

    record: TaskRecord
    artifacts: dict[str, ArtifactRef]
    foreach_num_splits: int | None


@dataclass(frozen=True)
class ResumePlan:
    origin: RunRecord
    reusable: dict[TaskKey, ReusableTask]


def plan_resume(
    graph: FlowGraph, metadata: MetadataBackend, origin: RunRecord, from_step: str | None
) -> ResumePlan:
    """Reuse every succeeded task of `origin` except `from_step` and what follows it."""
    if from_step is not None and from_step not in graph:
        raise ShipyardError(
            f"--step {from_step}: the flow has no such step; steps: {', '.join(graph.nodes)}"
        )
    rerun = graph.descendants(from_step) if from_step else frozenset()
    tasks = metadata.list_tasks(origin.flow_name, origin.run_id)
    stored = metadata.artifacts_of_run(origin.flow_name, origin.run_id)
    widths = _foreach_widths(tasks)
    reusable: dict[TaskKey, ReusableTask] = {}
    for task in tasks:
        if task.status is not TaskStatus.SUCCEEDED or task.step_name not in graph:
            continue
        if task.step_name in rerun:
            continue
        key = task_key(task.step_name, task.foreach_stack)
        width = widths.get(key)
        if graph[task.step_name].kind.fans_out and width is None:
            continue  # its fan-out never started: run it again to learn the width
        artifacts = {
            name: record.ref
            for name, record in stored.get((task.step_name, task.task_id), {}).items()
        }
        reusable[key] = ReusableTask(task, artifacts, width)
    return ResumePlan(origin, _whole_gangs(reusable))


def _whole_gangs(reusable: dict[TaskKey, ReusableTask]) -> dict[TaskKey, ReusableTask]:
    """Without the members of a `@parallel` gang that did not all succeed: a gang starts
    together again, since a member run alone would wait for mates that never come."""
    gangs: dict[TaskKey, list[TaskKey]] = {}
    for key, task in reusable.items():
        stack = task.record.foreach_stack
        if stack and stack[-1].var == GANG_FRAME_VAR:
            gangs.setdefault(task_key(stack[-1].step, stack[:-1]), []).append(key)
    for members in gangs.values():
        frame = reusable[members[0]].record.foreach_stack[-1]
        if len(members) != frame.num_splits:
            for key in members:
                del reusable[key]
    return reusable


def _foreach_widths(tasks: Iterable[TaskRecord]) -> dict[TaskKey, int]:
    """How wide each foreach split fanned out, read off the tasks inside it."""
    widths: dict[TaskKey, int] = {}
    for task in tasks:
        for depth, frame in enumerate(task.foreach_stack):
            widths[task_key(frame.step, task.foreach_stack[:depth])] = frame.num_splits
    return widths


def choose_origin(
    metadata: MetadataBackend, flow_name: str, user: str, run_id: str | None, from_step: str | None
) -> RunRecord:
    """The run to resume: the one named, or the user's latest run of the flow."""
    if run_id is None:
        runs = metadata.list_runs(flow_name, tags=[f"user:{user}"], limit=1)
        if not runs:
            raise ShipyardError(
                f"there is no run of {flow_name} by {user} to resume; run the flow first"
            )
        origin = runs[0]
    else:
        origin = metadata.get_run(flow_name, run_id)
    if origin.status is RunStatus.RUNNING:
        settle_abandoned_run(metadata, origin)
    if origin.status is RunStatus.SUCCEEDED and from_step is None:
        raise ShipyardError(
            f"run {origin.pathspec} succeeded, so there is nothing to resume; "
            "pass --step STEP to run again from a step"
        )
    return origin


def settle_abandoned_run(metadata: MetadataBackend, run: RunRecord) -> None:
    """Mark a run whose runner died as failed, with its in-flight tasks, before resuming it."""
    if runner_is_alive(run):
        beat = (
            f", last heartbeat {run.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC" if run.heartbeat_at else ""
        )
        raise ShipyardError(
            f"run {run.pathspec} is still running (pid {run.runner_pid} on "
            f"{run.runner_host}{beat}); wait for it to finish or stop it before resuming"
        )
    metadata.fail_running_tasks(
        run.flow_name, run.run_id, "the process running the flow died before the task ended"
    )
    metadata.finish_run(run.flow_name, run.run_id, RunStatus.FAILED)
