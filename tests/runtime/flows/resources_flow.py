"""Four tasks that each ask for 2 CPUs, recording when they ran."""

import time

from shipyard import FlowSpec, resources, step


class ResourcesFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(4))
        self.next(self.work, foreach="items")

    @resources(cpu=2, memory=64)
    @step
    def work(self):
        self.began = time.time()
        time.sleep(0.3)
        self.ended = time.time()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.spans = sorted((i.began, i.ended) for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ResourcesFlow()
