"""Flow decorators: data attached to a FlowSpec class, read by whoever launches or deploys it.

`@project`, `@schedule`, `@trigger` and the like are `FlowDecorator`s. Applying one stores
it on the class (nothing wraps the class); `FlowSpec.flow_decorators()` lists them in the
order applied. The launcher calls each one's `before_run` with one `RunStartContext` before
the run is recorded, so a decorator can validate the run or add tags to it; a deployer reads
the same objects to export schedules or triggers.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from shipyard.exceptions import FlowDefinitionError

__all__ = ["FlowDecorator", "RunStartContext"]

C = TypeVar("C", bound=type)

FLOW_DECORATORS_ATTRIBUTE = "__shipyard_flow_decorators__"


@dataclass
class RunStartContext:
    """A run about to be recorded: `before_run` hooks may add `tags` or raise to refuse it."""

    flow_name: str
    username: str
    parameters: Mapping[str, Any]
    tags: list[str]
    #: The run being resumed, when this run resumes one.
    origin_run_id: str | None = None


class FlowDecorator:
    """Base of flow decorators: `@project(name=...)` stores an instance on the flow class."""

    name: ClassVar[str] = "flow_decorator"

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        # `@project` without parentheses hands us the class itself: apply the defaults.
        if len(args) == 1 and not kwargs and inspect.isclass(args[0]):
            return cls()(args[0])
        return super().__new__(cls)

    def __call__(self, flow_class: C) -> C:
        own: tuple[FlowDecorator, ...] = vars(flow_class).get(FLOW_DECORATORS_ATTRIBUTE, ())
        if any(type(d) is type(self) for d in own):
            file, line = _where(flow_class)
            raise FlowDefinitionError(
                f"@{self.name} is applied twice to the flow {flow_class.__name__}",
                hint=f"keep one @{self.name} on the class",
                file=file,
                line=line,
            )
        setattr(flow_class, FLOW_DECORATORS_ATTRIBUTE, (*own, self))
        return flow_class

    def before_run(self, context: RunStartContext) -> None:
        """Called by the launcher before the run is recorded (also when resuming)."""


def flow_decorators_of(flow_class: type) -> tuple[FlowDecorator, ...]:
    """The class's flow decorators in the order applied; a subclass's own replace its bases'
    of the same kind."""
    found: dict[type, FlowDecorator] = {}
    for klass in reversed(flow_class.__mro__):
        for decorator in vars(klass).get(FLOW_DECORATORS_ATTRIBUTE, ()):
            found.pop(type(decorator), None)
            found[type(decorator)] = decorator
    return tuple(found.values())


def _where(flow_class: type) -> tuple[str | None, int | None]:
    """The file and line of the `class` statement, when the source is at hand."""
    try:
        return inspect.getsourcefile(flow_class), inspect.getsourcelines(flow_class)[1]
    except (OSError, TypeError):
        return None, None
