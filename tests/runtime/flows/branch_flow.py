"""A static branch closed by a join that reads inputs by name and merges artifacts."""

from on_ray import ray_task

from shipyard import FlowSpec, step


class BranchFlow(FlowSpec):
    @step
    def start(self):
        self.shared = "same everywhere"
        self.next(self.left, self.right)

    @step
    def left(self):
        self.side = "left"
        self.ray_task = ray_task()
        self.left_only = 1
        self.next(self.join)

    @step
    def right(self):
        self.side = "right"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.sides = sorted(i.side for i in inputs)
        self.from_left = inputs.left.side
        self.merge_artifacts(inputs, exclude=["side"])
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BranchFlow()
