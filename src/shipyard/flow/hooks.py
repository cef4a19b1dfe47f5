"""The lifecycle of a step decorator: where each hook runs and the one context it gets.

- `before_launch(LaunchContext)`: scheduler, once per step before the run (attempt 0, no
  task yet) and then per attempt; may change resources, kill deadline, fresh interpreter.
- `before_step(StepContext)` / `after_step(StepContext)`: in the task process around the
  step function; after-hooks run in reverse and always, `exception` says how it ended.
- `after_task(TaskFinishedContext)`: scheduler, after each attempt is recorded (a report).
- `on_failure(FailureContext)`: scheduler, when an attempt failed for any reason (exception,
  crash, kill); returns a `FailureDecision` (retry, catch, give up) or None.

The scheduler knows decorators only through these hooks, never by their type. A decorator
overrides just the hooks it needs; `StepHooks` sorts a step's decorators by hook once per
step so that an undecorated task costs nothing extra. docs/decorators.md has the table.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from shipyard.exceptions import FlowDefinitionError

if TYPE_CHECKING:
    from shipyard.datastore.artifacts import ArtifactStore
    from shipyard.datastore.refs import ArtifactRef
    from shipyard.flow.graph import FlowGraph

__all__ = [
    "CatchFailure",
    "FailureContext",
    "FailureDecision",
    "GiveUp",
    "LaunchContext",
    "RetryTask",
    "StepContext",
    "StepDecorator",
    "StepFailure",
    "TaskFinishedContext",
    "TaskOutcome",
]

F = TypeVar("F", bound=Callable[..., Any])

PENDING_ATTRIBUTE = "__shipyard_decorators__"


# -- contexts ------------------------------------------------------------------------------
@dataclass
class LaunchContext:
    """How a task will be launched; `before_launch` hooks change it in place.

    `task_id` is None when the scheduler asks once per step before the run starts, so that
    requests that could never be met are refused before anything runs.
    """

    flow_name: str
    step_name: str
    attempt: int
    task_id: str | None
    #: What one task needs: CPUs, memory in MB, GPUs (executors admit it when that is free).
    cpu: float = 1
    memory: int = 0
    gpu: int = 0
    #: Whether a decorator asked for resources yet: a second request (@resources with
    #: @kubernetes) only raises them, as Metaflow keeps the larger of the two.
    resources_requested: bool = False
    #: Seconds after which the executor kills the task process outright; None: never.
    kill_after_seconds: float | None = None
    #: Run the task in a new interpreter of its own instead of a fork of the warm worker:
    #: for a step that must not share the runner's imports (GPU steps never fork anyway).
    fresh_interpreter: bool = False


@dataclass
class StepContext:
    """What `before_step` / `after_step` see inside the task process."""

    step_name: str
    attempt: int
    flow: Any
    #: Set before the `after_step` hooks run when the step (or a `before_step`) raised.
    exception: BaseException | None = None


class TaskOutcome(enum.Enum):
    """How one attempt ended, as the scheduler recorded it."""

    SUCCEEDED = "succeeded"
    #: It failed and a `CatchFailure` decision turned it into a success.
    CAUGHT = "caught"
    #: It failed and another attempt is scheduled.
    RETRYING = "retrying"
    #: It failed for good: the run fails.
    FAILED = "failed"


@dataclass(frozen=True)
class StepFailure:
    """What `@catch` stores instead of failing: the step's error, for later steps to test."""

    exception_type: str
    message: str
    traceback: str

    def __str__(self) -> str:
        return f"{self.exception_type}: {self.message}"

    @classmethod
    def from_error(cls, error: str) -> StepFailure:
        """Read the error text a failed task left (its last line names the type)."""
        text = error.strip()
        last = text.splitlines()[-1] if text else "TaskFailed: no error recorded"
        kind, _, message = last.partition(": ")
        if not message or " " in kind:
            kind, message = "TaskFailed", last
        return cls(exception_type=kind, message=message, traceback=error)


@dataclass(frozen=True)
class FailureContext:
    """A failed attempt, for `on_failure` to decide what happens next."""

    flow_name: str
    run_id: str
    step_name: str
    task_id: str
    attempt: int
    #: The user's traceback, or what the executor knows (a crash, a kill).
    error: str | None
    exit_code: int | None

    @property
    def pathspec(self) -> str:
        return f"{self.flow_name}/{self.run_id}/{self.step_name}/{self.task_id}"

    @property
    def failure(self) -> StepFailure:
        return StepFailure.from_error(self.error or "")


@dataclass(frozen=True)
class TaskFinishedContext:
    """An attempt after the scheduler recorded it: where it is, how it ended, what it stored."""

    flow_name: str
    run_id: str
    step_name: str
    task_id: str
    attempt: int
    outcome: TaskOutcome
    artifacts: Mapping[str, ArtifactRef]
    error: str | None
    #: Where the artifacts are, to load them or to store something next to them.
    store: ArtifactStore

    @property
    def pathspec(self) -> str:
        return f"{self.flow_name}/{self.run_id}/{self.step_name}/{self.task_id}"

    def load(self, name: str) -> Any:
        return self.store.load(self.artifacts[name])


# -- failure decisions ---------------------------------------------------------------------
@dataclass(frozen=True)
class RetryTask:
    """Run the task again (a new attempt, with its own logs) after `delay_seconds`."""

    delay_seconds: float = 0


@dataclass(frozen=True)
class CatchFailure:
    """Succeed instead: store the `StepFailure` in artifact `var` and let the flow go on."""

    var: str


@dataclass(frozen=True)
class GiveUp:
    """Fail the task, and with it the run."""


FailureDecision = RetryTask | CatchFailure | GiveUp

#: When decorators disagree the earliest kind here wins: retries come first, a catch applies
#: only once no decorator wants another attempt, and with no decision the task fails.
DECISION_ORDER: tuple[type[FailureDecision], ...] = (RetryTask, CatchFailure, GiveUp)


# -- the decorator base --------------------------------------------------------------------
class StepDecorator:
    """Base of step decorators: `@retry(...)` puts an instance on the step's definition.

    A decorator never wraps the function, so decorators compose in any order, above or
    below `@step`. Subclasses override only the hooks they need (see the module's table).
    """

    name: ClassVar[str] = "decorator"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # An argument taken from a `Config` is known only once the configuration is read:
        # the decorator's own checks (`__post_init__`) wait for the real values, which the
        # graph gives it through `dataclasses.replace` (see `flow.configs.configured`).
        super().__init_subclass__(**kwargs)
        check = cls.__dict__.get("__post_init__")
        if check is not None:

            def post_init(self: StepDecorator) -> None:
                from shipyard.flow.configs import holds_config_expr

                if not holds_config_expr(self):
                    check(self)

            cls.__post_init__ = post_init  # type: ignore[attr-defined]

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

    def before_launch(self, context: LaunchContext) -> None:
        """Scheduler side, before a task of the step is launched: change how it is launched."""

    def before_step(self, context: StepContext) -> None:
        """Runs in the task process right before the step function."""

    def after_step(self, context: StepContext) -> None:
        """Runs in the task process after the step function, whether it raised or not."""

    def after_task(self, context: TaskFinishedContext) -> None:
        """Scheduler side, after each attempt was recorded."""

    def on_failure(self, context: FailureContext) -> FailureDecision | None:
        """Scheduler side, when an attempt failed: a decision, or None for no opinion."""
        return None


def _overriding(decorators: Sequence[StepDecorator], hook: str) -> tuple[StepDecorator, ...]:
    default = getattr(StepDecorator, hook)
    return tuple(d for d in decorators if getattr(type(d), hook) is not default)


class StepHooks:
    """One step's decorators, sorted once by the scheduler-side hooks they implement.

    The scheduler builds one per step before the run and keeps it: per task it calls only
    the decorators that override a hook.
    """

    def __init__(self, flow_name: str, step_name: str, decorators: Sequence[StepDecorator]):
        self.flow_name = flow_name
        self.step_name = step_name
        self.before_launch = _overriding(decorators, "before_launch")
        self.after_task = _overriding(decorators, "after_task")
        self.on_failure = _overriding(decorators, "on_failure")

    @classmethod
    def of(cls, graph: FlowGraph, step_name: str) -> StepHooks:
        """The hooks of one step of `graph` (with any decorators the run attached to it)."""
        return cls(graph.flow_name, step_name, graph[step_name].definition.decorators)

    def launch(self, attempt: int = 0, task_id: str | None = None) -> LaunchContext:
        """How to launch this attempt (with no task: what every task of the step asks for)."""
        context = LaunchContext(self.flow_name, self.step_name, attempt, task_id)
        for decorator in self.before_launch:
            decorator.before_launch(context)
        return context

    def decide(self, context: FailureContext) -> FailureDecision:
        """Ask every decorator, in the order applied; the earliest kind in DECISION_ORDER wins.

        Among decisions of one kind the first decorator's wins; with none, give up.
        """
        decisions = [d.on_failure(context) for d in self.on_failure]
        return min(
            (d for d in decisions if d is not None),
            key=lambda d: DECISION_ORDER.index(type(d)),
            default=GiveUp(),
        )

    def finished(self, context: TaskFinishedContext) -> None:
        for decorator in self.after_task:
            decorator.after_task(context)


def run_step(
    decorators: Sequence[StepDecorator], context: StepContext, body: Callable[[], Any]
) -> None:
    """Call the step between its decorators' hooks: before in order, after in reverse, always.

    Only decorators whose `before_step` ran get their `after_step`.
    """
    entered: list[StepDecorator] = []
    try:
        for decorator in decorators:
            decorator.before_step(context)
            entered.append(decorator)
        body()
    except BaseException as exc:
        context.exception = exc
        raise
    finally:
        for decorator in reversed(entered):
            decorator.after_step(context)
