"""A flow whose run the client tour reads: a foreach, logs on both streams, a retried task."""

import sys

from metaflow import FlowSpec, Parameter, current, retry, step


class TourFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5)

    @step
    def start(self):
        self.items = ["a", "b"]
        print("starting", self.alpha)
        print("a warning", file=sys.stderr)
        self.next(self.work, foreach="items")

    @retry(times=1)
    @step
    def work(self):
        if self.input == "b" and current.retry_count == 0:
            raise ValueError("flaky b")
        self.result = self.input.upper()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.results = sorted(inp.result for inp in inputs)
        self.next(self.end)

    @step
    def end(self):
        self.summary = ",".join(self.results)


if __name__ == "__main__":
    TourFlow()
