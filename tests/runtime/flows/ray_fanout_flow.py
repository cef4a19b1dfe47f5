"""A wide foreach on Ray whose join fans out again with Ray itself, from inside the step."""

import os

from on_ray import ray_task

from shipyard import FlowSpec, Parameter, step


class RayFanoutFlow(FlowSpec):
    width = Parameter("width", default=200)

    @step
    def start(self):
        self.items = list(range(self.width))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        import ray

        print(f"working on {self.input}")
        self.square = self.input * self.input
        self.pid = os.getpid()
        self.in_ray = ray.is_initialized()
        self.ray_task = ray_task()
        self.next(self.join)

    @step
    def join(self, inputs):
        import ray

        @ray.remote
        def cube(x):
            return x**3

        self.squares = [i.square for i in inputs]
        self.pids = sorted({i.pid for i in inputs})
        self.all_in_ray = all(i.in_ray for i in inputs)
        self.ray_tasks = [i.ray_task for i in inputs]
        self.cubes = ray.get([cube.remote(x) for x in range(10)])
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    RayFanoutFlow()
