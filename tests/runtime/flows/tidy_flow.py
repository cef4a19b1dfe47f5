"""Steps that change their process (environment, directory) to show the next task is clean."""

import os

from on_ray import ray_task

from shipyard import FlowSpec, environment, step


class TidyFlow(FlowSpec):
    @environment(vars={"TIDY_FLOW_LEAK": "yes"})
    @step
    def start(self):
        self.start_pid = os.getpid()
        self.start_cwd = os.getcwd()
        os.environ["TIDY_FLOW_SET_BY_HAND"] = "yes"
        os.chdir("/")
        self.next(self.end)

    @step
    def end(self):
        self.end_pid = os.getpid()
        self.end_cwd = os.getcwd()
        self.leaked = sorted(k for k in os.environ if k.startswith("TIDY_FLOW_"))
        self.ray_task = ray_task()


if __name__ == "__main__":
    TidyFlow()
