"""Large arrays and data frames as artifacts: stored once, without copies, loaded lazily.

`python artifacts_flow.py run`, then `shipyard artifacts ArtifactsFlow/<run>/end/<task>`.
"""

from shipyard import FlowSpec, step


class ArtifactsFlow(FlowSpec):
    """An array and a frame pass through steps that never touch them: stored once."""

    @step
    def start(self):
        import numpy as np
        import pandas as pd

        self.matrix = np.arange(1_000_000, dtype=np.float64).reshape(1000, 1000)
        self.frame = pd.DataFrame({"id": range(1000), "score": np.linspace(0, 1, 1000)})
        self.next(self.untouched)

    @step
    def untouched(self):
        """Does not read the big artifacts, so they are neither loaded nor stored again."""
        self.note = "passed through"
        self.next(self.end)

    @step
    def end(self):
        self.trace = float(self.matrix.trace())
        self.top = self.frame.nlargest(3, "score")["id"].tolist()
        print(f"trace {self.trace:.0f}, top ids {self.top}")


if __name__ == "__main__":
    ArtifactsFlow()
