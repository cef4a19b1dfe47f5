"""Resource accounting: what a task asks for (its launch hooks) against what an executor has."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shipyard.exceptions import ShipyardError
from shipyard.flow.graph import FlowGraph
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


@dataclass(frozen=True)
class ExecutorLimits:
    """What an executor may use at once; memory in MB (None: not limited)."""

    cpu: float
    memory: int | None
    gpu: int
    max_tasks: int


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
    places = list(capacities)
    for node in graph:
        needed = requested_resources(graph, node.name)
        if not any(needed.fits(place) for place in places):
            return node.name, needed
    return None


def describe_request(step_name: str, needed: Resources) -> str:
    return (
        f"step '{step_name}' asks for cpu={needed.cpu:g}, memory={needed.memory} MB, "
        f"gpu={needed.gpu}"
    )


def check_requests_fit(graph: FlowGraph, limits: ExecutorLimits, where: str) -> None:
    """Refuse before anything runs a step that could never be started on this executor."""
    unfit = first_unfit_step(graph, [limits])
    if unfit is not None:
        memory = "unlimited" if limits.memory is None else f"{limits.memory} MB"
        raise ShipyardError(
            f"{describe_request(*unfit)}, but {where} has cpu={limits.cpu:g}, "
            f"memory={memory}, gpu={limits.gpu}. Lower the step's @resources, or give the "
            "executor more (--max-workers, --max-memory, --gpus)"
        )
