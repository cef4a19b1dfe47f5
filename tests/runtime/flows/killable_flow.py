"""A foreach of slow tasks: a test kills the runner midway."""

import time

from shipyard import FlowSpec, step


class KillableFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(12))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        time.sleep(0.3)
        self.value = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = [i.value for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    KillableFlow()
