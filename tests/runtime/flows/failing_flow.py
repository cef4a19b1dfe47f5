"""A flow whose middle step raises, os._exit()s or sys.exit()s depending on --mode."""

import os
import sys

from on_ray import ray_task

from shipyard import FlowSpec, Parameter, step


def explode(mode):
    if mode == "raise":
        raise ValueError("the data is bad")
    if mode == "exit":
        os._exit(3)
    if mode == "sysexit":
        sys.exit(0)
    if mode == "segfault":
        import ctypes

        ctypes.string_at(0)


class FailingFlow(FlowSpec):
    mode = Parameter("mode", default="raise")

    @step
    def start(self):
        self.ray_task = ray_task()
        self.items = [1, 2, 3]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        print(f"working on {self.input}")
        if self.input == 2:
            explode(self.mode)
        self.result = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FailingFlow()
