"""Fails where a marker file says, so that a fixed re-run (resume) can succeed.

`--fail-at STEP` names the step that fails while the file `<cwd>/broken` exists; the
work step fails only for element 2 of the foreach. Every task appends its pathspec to
`<cwd>/executed.log`, so a test can see what was run and what was reused.
"""

import os
from pathlib import Path

from on_ray import ray_task

from shipyard import FlowSpec, Parameter, current, step


def note_and_maybe_fail(where):
    with open("executed.log", "a") as log:
        log.write(f"{current.run_id} {current.step_name} {current.task_id}\n")
    if Path("broken").exists() and Path("broken").read_text().strip() == where:
        raise RuntimeError(f"{where} is broken")


class ResumableFlow(FlowSpec):
    base = Parameter("base", default=10)

    @step
    def start(self):
        note_and_maybe_fail("start")
        self.items = [1, 2, 3]
        self.next(self.left, self.right)

    @step
    def left(self):
        note_and_maybe_fail("left")
        self.side = "left"
        self.next(self.branch_join)

    @step
    def right(self):
        note_and_maybe_fail("right")
        self.side = "right"
        self.next(self.branch_join)

    @step
    def branch_join(self, inputs):
        note_and_maybe_fail("branch_join")
        self.sides = [i.side for i in inputs]
        self.merge_artifacts(inputs, exclude=["side"])
        self.next(self.work, foreach="items")

    @step
    def work(self):
        if self.input == 2:
            note_and_maybe_fail("work")
        else:
            note_and_maybe_fail("work-other")
        self.value = self.input * self.base
        self.origin_seen = current.origin_run_id
        self.ray_task = ray_task()
        self.next(self.join)

    @step
    def join(self, inputs):
        note_and_maybe_fail("join")
        self.total = sum(i.value for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        note_and_maybe_fail("end")
        self.pid = os.getpid()
        self.ray_task = ray_task()


if __name__ == "__main__":
    ResumableFlow()
