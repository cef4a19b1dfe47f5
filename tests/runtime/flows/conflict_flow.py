"""merge_artifacts meets different values of the same artifact and must fail clearly."""

from shipyard import FlowSpec, step


class ConflictFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.value = 1
        self.next(self.join)

    @step
    def b(self):
        self.value = 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.merge_artifacts(inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ConflictFlow()
