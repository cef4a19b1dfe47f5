"""A step decorator whose before-launch hook asks for a fresh interpreter, as a GPU step will.

`IMPORTED_IN` tells which process imported this file: forked tasks inherit the runner's
import, a task started on the task entrypoint imports the flow from the code snapshot.
"""

import os

from shipyard import FlowSpec, step
from shipyard.flow.hooks import LaunchContext, StepDecorator

IMPORTED_IN = os.getpid()


class fresh(StepDecorator):
    name = "fresh"

    def before_launch(self, context: LaunchContext) -> None:
        context.fresh_interpreter = True


class FreshHookFlow(FlowSpec):
    @step
    def start(self):
        self.start_at = (os.getpid(), IMPORTED_IN)
        self.next(self.train)

    @fresh
    @step
    def train(self):
        self.train_at = (os.getpid(), IMPORTED_IN)
        self.next(self.end)

    @step
    def end(self):
        self.runner_module = __name__


if __name__ == "__main__":
    FreshHookFlow()
