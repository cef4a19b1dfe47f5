"""Step decorators: retry, catch, timeout, resources, environment.

Each is an independent object that attaches itself to the step's definition; none wraps
the function, so they compose in any order, above or below `@step`. Each works through the
lifecycle hooks of `shipyard.flow.hooks` only: the scheduler never asks which one it has.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from shipyard.flow.hooks import (
    CatchFailure,
    FailureContext,
    LaunchContext,
    RetryTask,
    StepContext,
    StepDecorator,
    StepFailure,
)

__all__ = [
    "KILL_GRACE_SECONDS",
    "StepFailure",
    "StepTimeout",
    "batch",
    "catch",
    "environment",
    "kubernetes",
    "resources",
    "retry",
    "timeout",
]

#: How long a task may outlive its @timeout (it first gets a StepTimeout exception).
KILL_GRACE_SECONDS = 5.0


@dataclass
class retry(StepDecorator):
    """Run a failed task again, up to `times` more attempts, each recorded with its logs."""

    times: int = 3
    minutes_between_retries: float = 0
    name: ClassVar[str] = "retry"

    def __post_init__(self) -> None:
        if self.times < 0 or self.minutes_between_retries < 0:
            raise ValueError("@retry takes times >= 0 and minutes_between_retries >= 0")

    def on_failure(self, context: FailureContext) -> RetryTask | None:
        if context.attempt < self.times:
            return RetryTask(delay_seconds=60 * self.minutes_between_retries)
        return None


@dataclass
class catch(StepDecorator):
    """When the last attempt fails, store the error in artifact `var` and carry on.

    The artifact holds a `StepFailure` when the step failed and None when it succeeded, so
    later steps can test it. Artifacts the failed attempt assigned are not kept. The decision
    is the scheduler's, so it also covers a process that crashed or was killed.
    """

    var: str = "error"
    print_exception: bool = True
    name: ClassVar[str] = "catch"

    def __post_init__(self) -> None:
        if not self.var.isidentifier():
            raise ValueError(f"@catch(var={self.var!r}) must name a valid artifact")

    def before_step(self, context: StepContext) -> None:
        setattr(context.flow, self.var, None)

    def on_failure(self, context: FailureContext) -> CatchFailure:
        return CatchFailure(self.var)


class StepTimeout(Exception):
    """Raised inside a step that ran longer than its @timeout."""


@dataclass
class timeout(StepDecorator):
    """Stop a task that runs too long: it fails (or is retried / caught).

    The step first gets a `StepTimeout` exception so it can clean up; if it does not stop
    (stuck in C code), the executor kills the process a few seconds later.
    """

    seconds: float = 0
    minutes: float = 0
    hours: float = 0
    name: ClassVar[str] = "timeout"

    @property
    def total_seconds(self) -> float:
        return self.seconds + 60 * self.minutes + 3600 * self.hours

    def __post_init__(self) -> None:
        if self.total_seconds <= 0:
            raise ValueError("@timeout needs a positive duration (seconds=, minutes= or hours=)")

    def before_launch(self, context: LaunchContext) -> None:
        context.kill_after_seconds = self.total_seconds + KILL_GRACE_SECONDS

    def before_step(self, context: StepContext) -> None:
        limit = self.total_seconds

        def expire(signum: int, frame: Any) -> None:
            raise StepTimeout(f"step '{context.step_name}' exceeded its @timeout of {limit:g}s")

        signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, limit)

    def after_step(self, context: StepContext) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)


@dataclass
class resources(StepDecorator):
    """What one task of the step needs: CPUs, memory in MB and GPUs.

    Recorded on every task; executors only start a task when that much is free.
    """

    cpu: float = 1
    memory: int = 0
    gpu: int = 0
    name: ClassVar[str] = "resources"

    def __post_init__(self) -> None:
        if self.cpu <= 0 or self.memory < 0 or self.gpu < 0:
            raise ValueError("@resources takes cpu > 0, memory >= 0 (MB) and gpu >= 0")

    def before_launch(self, context: LaunchContext) -> None:
        if context.resources_requested:
            context.cpu = max(context.cpu, self.cpu)
            context.memory = max(context.memory, self.memory)
            context.gpu = max(context.gpu, self.gpu)
        else:
            context.cpu, context.memory, context.gpu = self.cpu, self.memory, self.gpu
        context.resources_requested = True


@dataclass(init=False)
class _ComputeTarget(resources):
    """Metaflow's `@kubernetes` / `@batch`: Shipyard runs the step on the run's executor
    (local processes, or Ray with --executor ray) and keeps only what it asks for.

    Their cpu, memory (MB) and gpu become the step's resources (the larger, with
    @resources); the other arguments (image, queue, secrets, ...) name places Shipyard does
    not send tasks to, so they are accepted and not used. docs/decorators.md says so.
    """

    options: Mapping[str, Any] = field(default_factory=dict)

    def __init__(
        self, cpu: float = 1, memory: int = 0, gpu: int | None = 0, **options: Any
    ) -> None:
        self.cpu, self.memory, self.gpu = cpu, memory, gpu or 0
        self.options = options
        self.__post_init__()


@dataclass(init=False)
class kubernetes(_ComputeTarget):
    """Accepted for Metaflow flows: the step's cpu, memory and gpu, run where the run runs."""

    name: ClassVar[str] = "kubernetes"


@dataclass(init=False)
class batch(_ComputeTarget):
    """Accepted for Metaflow flows: the step's cpu, memory and gpu, run where the run runs."""

    name: ClassVar[str] = "batch"


@dataclass
class environment(StepDecorator):
    """Environment variables set in the task process before the step runs."""

    vars: Mapping[str, str] = field(default_factory=dict)
    name: ClassVar[str] = "environment"

    def before_step(self, context: StepContext) -> None:
        os.environ.update({str(k): str(v) for k, v in self.vars.items()})
