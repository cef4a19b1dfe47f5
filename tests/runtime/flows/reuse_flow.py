"""A foreach whose tasks say which process ran them and what earlier tasks left there.

`LEFT` is module-level state: a warm worker keeps it from task to task, and a new worker
starts from the module as the runner (fork) or the code snapshot (spawn) had it.
"""

import os

from shipyard import FlowSpec, Parameter, current, retry, step

#: One entry per task this process ran before: its label, and the memory it keeps.
LEFT: list[tuple[str, bytearray]] = []


class ReuseFlow(FlowSpec):
    width = Parameter("width", default=4, help="How many `work` tasks the foreach starts.")
    hold_mb = Parameter("hold_mb", default=0, help="Memory the first `work` task keeps.")
    fail_item = Parameter("fail_item", default=1, help="The item whose first attempt fails.")

    @step
    def start(self):
        self.at = (os.getpid(), len(LEFT))
        LEFT.append(("start", bytearray()))
        self.items = list(range(self.width))
        self.next(self.work, foreach="items")

    @retry(times=1)
    @step
    def work(self):
        self.at = (os.getpid(), len(LEFT))
        self.attempt = current.retry_count
        self.after_a_failure = any(label == "failed" for label, _ in LEFT)
        if self.input == self.fail_item and current.retry_count == 0:
            LEFT.append(("failed", bytearray()))
            raise RuntimeError(f"the first attempt of item {self.fail_item} fails")
        held = self.hold_mb if self.input == 0 else 0
        LEFT.append(("work", bytearray(b"x") * (held << 20)))
        self.next(self.join)

    @step
    def join(self, inputs):
        self.work_at = [task.at for task in inputs]
        self.after_a_failure = [task.after_a_failure for task in inputs]
        self.attempts = [task.attempt for task in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ReuseFlow()
