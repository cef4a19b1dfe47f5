"""Nested foreach: an outer fan-out over letters, an inner one over numbers."""

from on_ray import ray_task

from shipyard import FlowSpec, step


class ForeachFlow(FlowSpec):
    @step
    def start(self):
        self.letters = ["a", "b", "c"]
        self.next(self.outer, foreach="letters")

    @step
    def outer(self):
        self.letter = self.input
        self.numbers = list(range(self.index + 1))
        self.next(self.inner, foreach="numbers")

    @step
    def inner(self):
        self.label = f"{self.letter}{self.input}"
        self.ray_task = ray_task()
        self.stack = [(i, n) for i, n, _ in self.foreach_stack()]
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.labels = [i.label for i in inputs]
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.all_labels = [label for i in inputs for label in i.labels]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ForeachFlow()
