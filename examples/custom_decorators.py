"""Writing your own decorators: a step decorator and a flow decorator (docs/decorators.md).

    python examples/custom_decorators.py run --with retry

`flaky` fails on its first attempt; `--with retry` retries it, and `@grow_memory` asks for
more memory on each retry. `@team` tags every run of the flow.
"""

from dataclasses import dataclass
from typing import ClassVar

from shipyard import FlowSpec, current, step
from shipyard.flow.decorator_specs import register_step_decorator
from shipyard.flow.flow_decorators import FlowDecorator, RunStartContext
from shipyard.flow.hooks import LaunchContext, StepContext, StepDecorator, TaskFinishedContext


@register_step_decorator  # so that `--with grow_memory:step_mb=512` works too
@dataclass
class grow_memory(StepDecorator):
    """Ask for `step_mb` more memory on each retry; say how each attempt ended."""

    step_mb: int = 1024
    name: ClassVar[str] = "grow_memory"

    def before_launch(self, context: LaunchContext) -> None:
        context.memory += self.step_mb * context.attempt

    def before_step(self, context: StepContext) -> None:
        print(f"attempt {context.attempt} of {context.step_name}")

    def after_task(self, context: TaskFinishedContext) -> None:
        print(f"{context.pathspec} attempt {context.attempt}: {context.outcome.value}")


@dataclass
class team(FlowDecorator):
    """Tag every run with the team that owns the flow."""

    owner: str = "ml"
    name: ClassVar[str] = "team"

    def before_run(self, context: RunStartContext) -> None:
        context.tags.append(f"team-{self.owner}")


@team(owner="search")
class CustomDecoratorsFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.flaky)

    @grow_memory(step_mb=256)
    @step
    def flaky(self):
        if current.retry_count == 0:
            raise RuntimeError("the first attempt fails")
        self.attempt = current.retry_count
        self.next(self.end)

    @step
    def end(self):
        print(f"flaky succeeded on attempt {self.attempt}")


if __name__ == "__main__":
    CustomDecoratorsFlow()
