"""Step decorators: retry, catch, timeout, resources, environment.

Each is an independent object that attaches itself to the step's definition; none wraps
the function, so they compose in any order, above or below `@step`. Behaviour that belongs
to the task process goes through two hooks taking one `StepContext`; the scheduler reads
the rest (retries, catching, resources) as plain data.
"""

from __future__ import annotations

import inspect
import os
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from shipyard.exceptions import FlowDefinitionError

F = TypeVar("F", bound=Callable[..., Any])

PENDING_ATTRIBUTE = "__shipyard_decorators__"


@dataclass
class StepContext:
    """What a decorator hook may look at: the running step and its attempt."""

    step_name: str
    attempt: int
    flow: Any


class StepDecorator:
    """Base of step decorators: `@retry(...)` puts an instance on the step's definition."""

    name: ClassVar[str] = "decorator"

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        # `@retry` without parentheses hands us the function itself: apply the defaults.
        if len(args) == 1 and not kwargs and inspect.isfunction(args[0]):
            return cls()(args[0])
        return super().__new__(cls)

    def __call__(self, function: F) -> F:
        pending: list[StepDecorator] = getattr(function, PENDING_ATTRIBUTE, [])
        if any(type(d) is type(self) for d in pending):
            raise FlowDefinitionError(
                f"@{self.name} is applied twice",
                hint=f"keep one @{self.name} on the step",
                file=function.__code__.co_filename,
                line=function.__code__.co_firstlineno,
                step=function.__name__,
            )
        setattr(function, PENDING_ATTRIBUTE, [*pending, self])
        return function

    def before_step(self, context: StepContext) -> None:
        """Runs in the task process right before the step function."""

    def after_step(self, context: StepContext) -> None:
        """Runs in the task process after the step function, whether it raised or not."""


@dataclass(frozen=True)
class StepFailure:
    """What `@catch` stores instead of failing: the step's error, for later steps to test."""

    exception_type: str
    message: str
    traceback: str

    def __str__(self) -> str:
        return f"{self.exception_type}: {self.message}"


@dataclass
class retry(StepDecorator):
    """Run a failed task again, up to `times` more attempts, each recorded with its logs."""

    times: int = 3
    minutes_between_retries: float = 0
    name: ClassVar[str] = "retry"

    def __post_init__(self) -> None:
        if self.times < 0 or self.minutes_between_retries < 0:
            raise ValueError("@retry takes times >= 0 and minutes_between_retries >= 0")


@dataclass
class catch(StepDecorator):
    """When the last attempt fails, store the error in artifact `var` and carry on.

    The artifact holds a `StepFailure` when the step failed and None when it succeeded, so
    later steps can test it. Artifacts the failed attempt assigned are not kept.
    """

    var: str = "error"
    print_exception: bool = True
    name: ClassVar[str] = "catch"

    def __post_init__(self) -> None:
        if not self.var.isidentifier():
            raise ValueError(f"@catch(var={self.var!r}) must name a valid artifact")

    def before_step(self, context: StepContext) -> None:
        setattr(context.flow, self.var, None)


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

    def as_dict(self) -> dict[str, float]:
        return {"cpu": self.cpu, "memory": self.memory, "gpu": self.gpu}


@dataclass
class environment(StepDecorator):
    """Environment variables set in the task process before the step runs."""

    vars: Mapping[str, str] = field(default_factory=dict)
    name: ClassVar[str] = "environment"

    def before_step(self, context: StepContext) -> None:
        os.environ.update({str(k): str(v) for k, v in self.vars.items()})


DEFAULT_RESOURCES = resources()
