"""start -> foreach over N -> trivial work -> join -> end: measures per-task overhead."""

from metaflow import FlowSpec, Parameter, step


class FanoutFlow(FlowSpec):
    width = Parameter("width", default=100, help="How many tasks the foreach starts.")

    @step
    def start(self):
        self.items = list(range(self.width))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.square = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.square for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FanoutFlow()
