"""One array made in start and handed on unchanged through ten steps.

With --mode pass the steps only read it; with --mode copy each middle step assigns back an
equal copy, so only content addressing (not object identity) can keep it stored once.
"""

import numpy as np
from metaflow import FlowSpec, Parameter, step


class DedupFlow(FlowSpec):
    mib = Parameter("mib", default=100, help="Size of the array in MiB.")
    mode = Parameter("mode", default="pass", help="pass: only read it; copy: assign a copy.")

    @step
    def start(self):
        self.data = np.random.default_rng(0).random(self.mib * 2**20 // 8)
        self.next(self.s1)

    def _hand_on(self):
        self.checksum = float(self.data[::4096].sum())
        if self.mode == "copy":
            self.data = self.data.copy()

    @step
    def s1(self):
        self._hand_on()
        self.next(self.s2)

    @step
    def s2(self):
        self._hand_on()
        self.next(self.s3)

    @step
    def s3(self):
        self._hand_on()
        self.next(self.s4)

    @step
    def s4(self):
        self._hand_on()
        self.next(self.s5)

    @step
    def s5(self):
        self._hand_on()
        self.next(self.s6)

    @step
    def s6(self):
        self._hand_on()
        self.next(self.s7)

    @step
    def s7(self):
        self._hand_on()
        self.next(self.s8)

    @step
    def s8(self):
        self._hand_on()
        self.next(self.end)

    @step
    def end(self):
        print("checksum", self.checksum)


if __name__ == "__main__":
    DedupFlow()
