"""Retry, catch, timeout, environment and resources on real steps; --mode picks the scenario."""

import os
import time

from shipyard import (
    FlowSpec,
    Parameter,
    catch,
    current,
    environment,
    resources,
    retry,
    step,
    timeout,
)


class DecoratedFlow(FlowSpec):
    mode = Parameter("mode", default="flaky")
    marker_dir = Parameter("marker_dir", default="")

    @step
    def start(self):
        self.next(self.work)

    @catch(var="problem")
    @retry(times=2)
    @timeout(seconds=1)
    @environment(vars={"SHIPYARD_TEST_ENV": "set-by-decorator"})
    @resources(cpu=1, memory=100)
    @step
    def work(self):
        print(f"attempt {current.retry_count}")
        self.env_value = os.environ.get("SHIPYARD_TEST_ENV")
        if self.mode == "flaky" and current.retry_count < 2:
            raise RuntimeError(f"flaky failure on attempt {current.retry_count}")
        if self.mode == "always":
            raise RuntimeError("always fails")
        if self.mode == "slow":
            time.sleep(30)
        if self.mode == "stuck":
            # Blocks SIGALRM's Python handler from running: only the hard kill stops it.
            import signal

            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
            time.sleep(30)
        if self.mode == "crash":
            os._exit(5)
        self.attempt_that_worked = current.retry_count
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    DecoratedFlow()
