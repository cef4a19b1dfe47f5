"""One step that outlasts the runner's heartbeat interval."""

import time

from shipyard import FlowSpec, step


class SleepyFlow(FlowSpec):
    @step
    def start(self):
        time.sleep(11)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SleepyFlow()
