"""A custom step decorator and a custom flow decorator that log every hook they get.

The log (one JSON line per hook call) goes to $SHIPYARD_TEST_HOOK_LOG; scheduler-side hooks
write it from the runner, in-task hooks from the task process.
"""

import json
import os
from dataclasses import dataclass
from typing import ClassVar

from shipyard import FlowSpec, current, retry, step
from shipyard.flow.decorator_specs import register_step_decorator
from shipyard.flow.flow_decorators import FlowDecorator, RunStartContext
from shipyard.flow.hooks import (
    FailureContext,
    LaunchContext,
    StepContext,
    StepDecorator,
    TaskFinishedContext,
)


def log(hook, **fields):
    with open(os.environ["SHIPYARD_TEST_HOOK_LOG"], "a") as out:
        out.write(json.dumps({"hook": hook, "pid": os.getpid(), **fields}) + "\n")


@register_step_decorator
@dataclass
class audited(StepDecorator):
    """Logs its hooks; asks for more memory when a task is retried."""

    retry_memory: int = 64
    name: ClassVar[str] = "audited"

    def before_launch(self, context: LaunchContext) -> None:
        log("before_launch", step=context.step_name, task=context.task_id, attempt=context.attempt)
        if context.attempt > 0:
            context.memory = self.retry_memory

    def before_step(self, context: StepContext) -> None:
        log("before_step", step=context.step_name, attempt=context.attempt)

    def after_step(self, context: StepContext) -> None:
        error = type(context.exception).__name__ if context.exception else None
        log("after_step", step=context.step_name, attempt=context.attempt, error=error)

    def after_task(self, context: TaskFinishedContext) -> None:
        value = context.load("value") if "value" in context.artifacts else None
        log(
            "after_task",
            step=context.step_name,
            attempt=context.attempt,
            outcome=context.outcome.value,
            pathspec=context.pathspec,
            value=value,
        )

    def on_failure(self, context: FailureContext) -> None:
        log(
            "on_failure",
            step=context.step_name,
            attempt=context.attempt,
            failure=context.failure.exception_type,
        )


@dataclass
class run_tag(FlowDecorator):
    """Adds a tag to every run of the flow."""

    tag: str = "audited-run"
    name: ClassVar[str] = "run_tag"

    def before_run(self, context: RunStartContext) -> None:
        log("before_run", flow=context.flow_name, user=context.username, tags=context.tags)
        context.tags.append(self.tag)


@run_tag(tag="hooked")
class HookedFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.work)

    @retry(times=1)
    @audited
    @step
    def work(self):
        if current.retry_count == 0:
            raise ValueError("first attempt fails")
        self.value = "worked"
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    HookedFlow()
