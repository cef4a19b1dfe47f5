"""Written for Metaflow's public API; the test only swaps the import line to Shipyard."""

from metaflow import FlowSpec, JSONType, Parameter, current, step


class ShowcaseFlow(FlowSpec):
    """Linear, branch/join, foreach, nested foreach, merge_artifacts and parameters."""

    scale = Parameter("scale", help="Multiplier", default=2)
    grid = Parameter("grid", help="Grid", type=JSONType, default='{"xs": [1, 2, 3]}')
    label = Parameter("label", help="A label", required=True)

    @step
    def start(self):
        self.xs = self.grid["xs"]
        self.constant = "kept"
        self.next(self.prepare)

    @step
    def prepare(self):
        self.prepared_by = current.step_name
        self.next(self.left, self.right)

    @step
    def left(self):
        self.branch_value = "L"
        self.next(self.branch_join)

    @step
    def right(self):
        self.branch_value = "R"
        self.next(self.branch_join)

    @step
    def branch_join(self, inputs):
        self.branch_values = sorted(inp.branch_value for inp in inputs)
        self.merge_artifacts(inputs, exclude=["branch_value"])
        self.next(self.fan, foreach="xs")

    @step
    def fan(self):
        self.x = self.input
        self.ys = [self.x * k for k in range(2)]
        self.next(self.inner, foreach="ys")

    @step
    def inner(self):
        self.value = self.input * self.scale
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.inner_sum = sum(inp.value for inp in inputs)
        self.merge_artifacts(inputs, exclude=["value"])
        self.next(self.fan_join)

    @step
    def fan_join(self, inputs):
        self.sums = [inp.inner_sum for inp in inputs]
        self.merge_artifacts(inputs, exclude=["x", "ys", "inner_sum"])
        self.next(self.end)

    @step
    def end(self):
        self.report = f"{self.label}:{sum(self.sums)}"
        print("done", self.report)


if __name__ == "__main__":
    ShowcaseFlow()
