"""Two feature sets prepared in parallel branches, then compared in a join.

`python branch_flow.py run`; `python branch_flow.py show` draws the graph.
"""

from shipyard import FlowSpec, step


class BranchFlow(FlowSpec):
    """Static branches: both run at the same time, the join sees both."""

    @step
    def start(self):
        """Generate a small data set."""
        import numpy as np

        rng = np.random.default_rng(0)
        self.x = rng.normal(size=(1000, 3))
        self.y = self.x @ np.array([1.5, -2.0, 0.5]) + rng.normal(scale=0.1, size=1000)
        self.next(self.raw, self.squared)

    @step
    def raw(self):
        """Fit on the raw features."""
        self.features = "raw"
        self.error = fit_error(self.x, self.y)
        self.next(self.compare)

    @step
    def squared(self):
        """Fit on squared features (a worse idea)."""
        self.features = "squared"
        self.error = fit_error(self.x**2, self.y)
        self.next(self.compare)

    @step
    def compare(self, inputs):
        """Pick the branch with the lower error; keep the shared data."""
        self.errors = {inp.features: inp.error for inp in inputs}
        self.best = min(self.errors, key=self.errors.get)
        self.raw_error = inputs.raw.error
        self.merge_artifacts(inputs, exclude=["features", "error"])
        self.next(self.end)

    @step
    def end(self):
        print(f"best features: {self.best}, errors: {self.errors}")


def fit_error(x, y):
    """Mean squared error of a least-squares fit."""
    import numpy as np

    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    return float(np.mean((x @ coef - y) ** 2))


if __name__ == "__main__":
    BranchFlow()
