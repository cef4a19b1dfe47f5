"""A flow for Metaflow's Runner API; `FAIL_AT=train` in the environment makes `train` fail."""

import os

from metaflow import FlowSpec, Parameter, step


class RunnerFlow(FlowSpec):
    alpha = Parameter("alpha", default=1.0)

    @step
    def start(self):
        self.doubled = self.alpha * 2
        self.next(self.train)

    @step
    def train(self):
        if os.environ.get("FAIL_AT") == "train":
            raise ValueError("boom in train")
        self.total = self.doubled + 1
        self.next(self.end)

    @step
    def end(self):
        print("total", self.total)


if __name__ == "__main__":
    RunnerFlow()
