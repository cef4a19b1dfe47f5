"""A step with @timeout alone that sleeps past it."""

import time

from on_ray import ray_task

from shipyard import FlowSpec, step, timeout


class TimeoutOnlyFlow(FlowSpec):
    @step
    def start(self):
        self.ray_task = ray_task()
        self.next(self.work)

    @timeout(seconds=1)
    @step
    def work(self):
        time.sleep(20)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TimeoutOnlyFlow()
