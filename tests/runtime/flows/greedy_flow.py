"""A step asking for more CPUs than a small cluster has."""

from shipyard import FlowSpec, resources, step


class GreedyFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.crunch)

    @resources(cpu=64)
    @step
    def crunch(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    GreedyFlow()
