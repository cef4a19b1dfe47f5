"""A class of the flow file passed between a forked task and a fresh-interpreter task.

In the runner (and its forked tasks) this file is `__main__`; a task on the task entrypoint
imports it from the code snapshot as `_shipyard_flow_<hash>`. Each side must read what the
other stored, and a forked task must get back the very class its steps use.
"""

from shipyard import FlowSpec, step
from shipyard.flow.hooks import LaunchContext, StepDecorator


class fresh(StepDecorator):
    name = "fresh"

    def before_launch(self, context: LaunchContext) -> None:
        context.fresh_interpreter = True


class Counter:
    def __init__(self, count: int) -> None:
        self.count = count


class FreshClassesFlow(FlowSpec):
    @step
    def start(self):
        self.counter = Counter(1)
        self.next(self.train)

    @fresh
    @step
    def train(self):
        self.counter = Counter(self.counter.count + 1)
        self.stored_as = type(self.counter).__module__
        self.next(self.end)

    @step
    def end(self):
        self.same_class = type(self.counter) is Counter
        self.count = self.counter.count


if __name__ == "__main__":
    FreshClassesFlow()
