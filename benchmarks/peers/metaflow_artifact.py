"""start stores one large float64 array -> total reads it back and sums it -> end.

Random values (fixed seed) so that neither side gains from compressing them.
"""

import numpy as np
from metaflow import FlowSpec, Parameter, step


class ArtifactFlow(FlowSpec):
    mib = Parameter("mib", default=1024, help="Size of the array in MiB.")

    @step
    def start(self):
        self.data = np.random.default_rng(0).random(self.mib * 2**20 // 8)
        self.next(self.total)

    @step
    def total(self):
        self.sum = float(self.data.sum())
        self.next(self.end)

    @step
    def end(self):
        print("sum", self.sum)


if __name__ == "__main__":
    ArtifactFlow()
