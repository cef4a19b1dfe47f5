"""Trains a tiny classifier and registers it from inside a step, with lineage."""

from shipyard import FlowSpec, Parameter, step
from shipyard.registry import models


class RegisterFlow(FlowSpec):
    C = Parameter("C", default=1.0, help="Inverse regularization strength.")

    @step
    def start(self):
        """Train and register."""
        import pandas as pd
        from sklearn.linear_model import LogisticRegression

        self.frame = pd.DataFrame({"x1": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "x2": [1, 0, 1, 0, 1, 0]})
        self.model = LogisticRegression(C=self.C).fit(self.frame, [0, 0, 0, 1, 1, 1])
        version = models.register(
            "ranker", self.model, input_example=self.frame, metrics={"accuracy": 1.0}
        )
        self.registered = version.ref
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    RegisterFlow()
