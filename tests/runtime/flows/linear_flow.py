"""start -> middle -> end, with parameters, logs and artifacts passed along."""

from shipyard import FlowSpec, JSONType, Parameter, current, step


class LinearFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5, help="A float.")
    count = Parameter("count", type=int, required=True, help="How many.")
    config = Parameter("config", type=JSONType, default={"k": 1})
    verbose = Parameter("verbose", type=bool, default=False)

    @step
    def start(self):
        """Create the first artifacts."""
        self.numbers = list(range(self.count))
        self.seen_run_id = current.run_id
        print("hello from start")
        self.next(self.middle)

    @step
    def middle(self):
        """Transform them."""
        self.total = sum(self.numbers) * self.alpha
        self.identity = {
            "flow_name": current.flow_name,
            "step_name": current.step_name,
            "task_id": current.task_id,
            "pathspec": current.pathspec,
            "retry_count": current.retry_count,
            "username": current.username,
            "tags": sorted(current.tags),
            "origin_run_id": current.origin_run_id,
        }
        import sys

        print("to stderr", file=sys.stderr)
        self.next(self.end)

    @step
    def end(self):
        self.k = self.config["k"]
        self.flag = self.verbose


if __name__ == "__main__":
    LinearFlow()
