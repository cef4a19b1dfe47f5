"""Three tasks that each ask for one GPU, recording when they ran and which GPU they saw."""

import os
import time

from on_ray import ray_task

from shipyard import FlowSpec, resources, step


class GpuFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(3))
        self.next(self.train, foreach="items")

    @resources(gpu=1)
    @step
    def train(self):
        self.devices = os.environ.get("CUDA_VISIBLE_DEVICES")
        self.ray_task = ray_task()
        self.began = time.time()
        time.sleep(0.3)
        self.ended = time.time()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.spans = sorted((i.began, i.ended) for i in inputs)
        self.devices = [i.devices for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    GpuFlow()
