"""GPU tasks in pairs that wait for each other, a task asking for two GPUs and one for none.

Each task records the `CUDA_VISIBLE_DEVICES` it saw and where it ran. `IMPORTED_IN` is the
process that imported this file: a task forked from the runner inherits the runner's import,
a spawned worker imported the flow itself. With FAKE_LIBCUDA set, importing the flow loads
that library as the CUDA driver is loaded by a flow asking PyTorch about devices.
"""

import ctypes
import os
import time
from pathlib import Path

from shipyard import FlowSpec, Parameter, resources, step

if os.environ.get("FAKE_LIBCUDA"):
    ctypes.CDLL(os.environ["FAKE_LIBCUDA"])

IMPORTED_IN = os.getpid()


def seen() -> dict:
    return {
        "devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "pid": os.getpid(),
        "imported_in": IMPORTED_IN,
    }


class GpuAssignFlow(FlowSpec):
    rendezvous = Parameter("rendezvous", help="a folder where paired tasks meet")

    @step
    def start(self):
        self.start_saw = seen()
        self.items = list(range(4))
        self.next(self.train, foreach="items")

    @resources(gpu=1)
    @step
    def train(self):
        """Tasks 0 and 1, then 2 and 3, each wait until the other started: they run together."""
        folder = Path(self.rendezvous)
        (folder / str(self.input)).touch()
        partner = folder / str(self.input ^ 1)
        give_up = time.monotonic() + 60
        while not partner.exists() and time.monotonic() < give_up:
            time.sleep(0.01)
        self.met_partner = partner.exists()
        self.saw = seen()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.trained = [(i.input, i.saw, i.met_partner) for i in inputs]
        self.next(self.pair)

    @resources(gpu=2)
    @step
    def pair(self):
        self.pair_saw = seen()
        self.next(self.cpu)

    @step
    def cpu(self):
        self.cpu_saw = seen()
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    GpuAssignFlow()
