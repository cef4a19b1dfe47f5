"""Resource accounting: what a task asks for (its launch hooks) against what an executor has."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from shipyard.exceptions import ShipyardError
from shipyard.flow.graph import FlowGraph, NodeKind
from shipyard.flow.hooks import LaunchContext, StepHooks


@dataclass(frozen=True)
class Resources:
    cpu: float = 0
    memory: int = 0
    gpu: int = 0

    @classmethod
    def of(cls, launch: LaunchContext) -> Resources:
        """What a task asks for, as its decorators' `before_launch` hooks left it."""
        return cls(launch.cpu, launch.memory, launch.gpu)

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.cpu + other.cpu, self.memory + other.memory, self.gpu + other.gpu)

    def __sub__(self, other: Resources) -> Resources:
        return Resources(self.cpu - other.cpu, self.memory - other.memory, self.gpu - other.gpu)

    def fits(self, limits: ExecutorLimits) -> bool:
        return (
            self.cpu <= limits.cpu + 1e-9
            and (limits.memory is None or self.memory <= limits.memory)
            and self.gpu <= limits.gpu
        )

    def times(self, count: int) -> Resources:
        return Resources(self.cpu * count, self.memory * count, self.gpu * count)

    def capped(self, limits: ExecutorLimits) -> Resources:
        """This request cut down to what `limits` has, dimension by dimension."""
        memory = self.memory if limits.memory is None else min(self.memory, limits.memory)
        return Resources(min(self.cpu, limits.cpu), memory, min(self.gpu, limits.gpu))

    def describe(self) -> str:
        return f"cpu={self.cpu:g}, memory={self.memory} MB, gpu={self.gpu}"


@dataclass(frozen=True)
class ExecutorLimits:
    """What an executor may use at once; memory in MB (None: not limited)."""

    cpu: float
    memory: int | None
    gpu: int
    max_tasks: int
    #: Run a task that asks for more than this with what there is (and a warning) instead
    #: of refusing it: the local executors without --strict-resources, since Metaflow
    #: ignores @resources on a laptop and flows written for a cluster should still run.
    caps_requests: bool = False

    def admit(self, needed: Resources, gang: int = 1) -> Resources:
        """What a task asking for `needed` holds: all of it, or, when capping, its share of
        what there is (a `@parallel` gang of `gang` tasks runs at once, so each gets 1/gang).
        """
        if not self.caps_requests or needed.times(gang).fits(self):
            return needed
        memory = None if self.memory is None else self.memory // gang
        return needed.capped(ExecutorLimits(self.cpu / gang, memory, self.gpu // gang, 1))


class ResourcesCapped(UserWarning):
    """A step asks for more than the local executor has and runs with less."""


def requested_resources(graph: FlowGraph, step_name: str) -> Resources:
    """What every task of the step asks for, as known before the run (attempt 0)."""
    return Resources.of(StepHooks.of(graph, step_name).launch())


def first_unfit_step(
    graph: FlowGraph, capacities: Iterable[ExecutorLimits]
) -> tuple[str, Resources] | None:
    """The first step (and its request) that fits none of `capacities`, if any.

    One capacity is a whole local executor; on a cluster each node is one, since a task
    runs on a single node.
    """
    return next(unfit_steps(graph, capacities), None)


def unfit_steps(
    graph: FlowGraph, capacities: Iterable[ExecutorLimits]
) -> Iterator[tuple[str, Resources]]:
    places = list(capacities)
    for node in graph:
        needed = requested_resources(graph, node.name)
        if not any(needed.fits(place) for place in places):
            yield node.name, needed


def gangs(graph: FlowGraph) -> Iterator[tuple[str, int, Resources]]:
    """Each `@parallel` step whose gang size the source gives: (step, size, one task's ask)."""
    for node in graph:
        if node.kind is NodeKind.PARALLEL and node.num_parallel and node.out[0] in graph:
            target = node.out[0]
            yield target, node.num_parallel, requested_resources(graph, target)


def unfit_gang(graph: FlowGraph, limits: ExecutorLimits) -> str | None:
    """Why a gang could never start at once on an executor with `limits`, if one could not."""
    for step_name, size, needed in gangs(graph):
        if not needed.times(size).fits(limits) or size > limits.max_tasks:
            return (
                f"{describe_request(step_name, needed)} in each of a @parallel gang of {size} "
                f"tasks, which must all run at once: {needed.times(size).describe()} in "
                f"{size} tasks"
            )
    return None


def describe_request(step_name: str, needed: Resources) -> str:
    return f"step '{step_name}' asks for {needed.describe()}"


def check_requests_fit(graph: FlowGraph, limits: ExecutorLimits, where: str) -> None:
    """Refuse before anything runs a step that could never be started on this executor, or,
    where the executor caps requests, warn about each such step and what it will get."""
    memory = "unlimited" if limits.memory is None else f"{limits.memory} MB"
    has = f"{where} has cpu={limits.cpu:g}, memory={memory}, gpu={limits.gpu}"
    for step_name, needed in unfit_steps(graph, [limits]):
        if not limits.caps_requests:
            raise ShipyardError(
                f"{describe_request(step_name, needed)}, but {has}. Lower the step's "
                "@resources, or give the executor more (--max-workers, --max-memory, --gpus)"
            )
        warnings.warn(
            ResourcesCapped(
                f"{describe_request(step_name, needed)}, but {has}: its tasks run with "
                f"{needed.capped(limits).describe()} (as Metaflow runs @resources steps "
                "locally); --strict-resources refuses such a run instead"
            ),
            stacklevel=2,
        )
    gang = unfit_gang(graph, limits)
    if gang is not None and not limits.caps_requests:
        raise ShipyardError(
            f"{gang}, but {has} and runs at most {limits.max_tasks} tasks at once. Lower "
            "num_parallel or the step's @resources, or give the executor more"
        )
    if gang is not None:
        warnings.warn(ResourcesCapped(f"{gang}; the gang shares what {where} has"), stacklevel=2)
