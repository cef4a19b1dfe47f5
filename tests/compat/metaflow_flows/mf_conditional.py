"""Metaflow 2.19's conditional branching: only the step the condition names runs."""

from metaflow import FlowSpec, Parameter, step


class ModelGateFlow(FlowSpec):
    """Retrain when the model is not good enough, promote it otherwise."""

    accuracy = Parameter("accuracy", default=0.95, type=float)
    threshold = Parameter("threshold", default=0.9, type=float)

    @step
    def start(self):
        if self.accuracy < 0:
            self.decision = "unknown"
        else:
            self.decision = "promote" if self.accuracy >= self.threshold else "retrain"
        self.regions = ["eu", "us"]
        self.next({"retrain": self.retrain, "promote": self.promote}, condition="decision")

    @step
    def retrain(self):
        self.outcome = "retrained"
        self.next(self.publish)

    @step
    def promote(self):
        self.outcome = "promoted"
        self.next(self.publish)

    @step
    def publish(self):
        self.next(self.per_region, foreach="regions")

    @step
    def per_region(self):
        self.region = self.input
        self.mode = "full" if self.input == "eu" else "lite"
        self.next({"full": self.full, "lite": self.lite}, condition="mode")

    @step
    def full(self):
        self.result = f"{self.region}:full"
        self.next(self.gather)

    @step
    def lite(self):
        self.result = f"{self.region}:lite"
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.results = sorted(i.result for i in inputs)
        self.merge_artifacts(inputs, include=["outcome"])
        self.next(self.end)

    @step
    def end(self):
        print(f"outcome {self.outcome} {self.results}")


if __name__ == "__main__":
    ModelGateFlow()
