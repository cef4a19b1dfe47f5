"""`@step` and the step definition object that the graph and the runtime consume."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, TypeVar, overload

F = TypeVar("F", bound=Callable[..., Any])
D = TypeVar("D")

STEP_ATTRIBUTE = "__shipyard_step__"


@dataclass
class StepDefinition:
    """What Shipyard knows about one step before anything runs.

    Step decorators (retry, timeout, ...) attach themselves to the function in the order
    they are applied; they never wrap it, so they compose in any order. A run may attach
    more to every step (`--with`); those come after the step's own.
    """

    name: str
    function: Callable[..., Any]
    #: Decorators a run attached to every step; a kind the step has itself is not added.
    attached: tuple[Any, ...] = ()
    #: The step's own decorators with their `Config` expressions evaluated, once known.
    configured: tuple[Any, ...] | None = None

    @property
    def own_decorators(self) -> list[Any]:
        """The decorators written on the step, in the order they were applied."""
        from shipyard.flow.hooks import PENDING_ATTRIBUTE

        return list(getattr(self.function, PENDING_ATTRIBUTE, []))

    @property
    def decorators(self) -> list[Any]:
        """Step decorators in the order they were applied, wherever they sit around @step."""
        own = list(self.configured) if self.configured is not None else self.own_decorators
        kinds = {type(d) for d in own}
        return own + [d for d in self.attached if type(d) not in kinds]

    def with_attached(self, decorators: Sequence[Any]) -> StepDefinition:
        """This step as a run sees it with `decorators` attached (Metaflow's `--with`)."""
        return replace(self, attached=tuple(decorators))

    def with_configured(self, decorators: Sequence[Any]) -> StepDefinition:
        """This step with its own decorators as a configuration made them (`Config`)."""
        return replace(self, configured=tuple(decorators))

    def decorator(self, kind: type[D]) -> D | None:
        """The decorator of this kind on the step, if any."""
        return next((d for d in self.decorators if isinstance(d, kind)), None)

    @cached_property
    def is_join(self) -> bool:
        """A join step takes `inputs` besides `self`.

        Cached: the scheduler and every task ask, and `inspect.signature` costs tens of
        microseconds each time.
        """
        return len(inspect.signature(self.function).parameters) == 2

    @property
    def docstring(self) -> str:
        return inspect.getdoc(self.function) or ""

    @property
    def source_file(self) -> str:
        return inspect.getsourcefile(self.function) or "<unknown>"

    @property
    def first_line(self) -> int:
        return self.function.__code__.co_firstlineno


def step_definition(function: Any) -> StepDefinition | None:
    """The definition attached by `@step`, or None for plain methods."""
    return getattr(function, STEP_ATTRIBUTE, None)


@overload
def step(function: F) -> F: ...
@overload
def step() -> Callable[[F], F]: ...
def step(function: F | None = None) -> F | Callable[[F], F]:
    """Mark a FlowSpec method as a step (`@step` or `@step()`).

    The function is returned unchanged apart from its definition attribute, so it stays a
    plain method that `self.next(self.other)` can refer to.
    """

    def mark(fn: F) -> F:
        if not callable(fn):
            raise TypeError("@step decorates a method of a FlowSpec")
        existing = step_definition(fn)
        if existing is None:
            setattr(fn, STEP_ATTRIBUTE, StepDefinition(fn.__name__, fn))
        return fn

    return mark(function) if function is not None else mark
