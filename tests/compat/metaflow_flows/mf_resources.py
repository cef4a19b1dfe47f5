"""Metaflow flows ask for cluster-sized resources; locally they run with what there is."""

from metaflow import FlowSpec, batch, kubernetes, resources, step


class BigAskFlow(FlowSpec):
    @resources(cpu=512, memory=4_000_000)
    @step
    def start(self):
        self.next(self.train)

    @kubernetes(cpu=1, memory=64, image="python:3.11", node_selector={"pool": "gpu"})
    @resources(memory=128)
    @step
    def train(self):
        self.next(self.score)

    @batch(cpu=1, memory=32, queue="jobs")
    @step
    def score(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BigAskFlow()
