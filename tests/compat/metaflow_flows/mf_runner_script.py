"""Metaflow's documented Runner and NBRunner usage; the test swaps the import line to Shipyard.

Runs the flow file given as the first argument (it fails, then is resumed) and a flow
defined right here, the way a notebook cell defines one, with NBRunner's async API.
"""

import asyncio
import sys

from metaflow import FlowSpec, NBRunner, Runner, step


class NotebookFlow(FlowSpec):
    @step
    def start(self):
        print("hello from the notebook flow")
        self.answer = 42
        self.next(self.end)

    @step
    def end(self):
        pass


flow_file = sys.argv[1]

with Runner(flow_file, show_output=False, env={"FAIL_AT": "train"}) as runner:
    failed = runner.run(alpha=0.5)
    assert failed.status == "failed", failed.status
    assert failed.returncode == 1, failed.returncode
    assert not failed.run.successful
    assert failed.run.data is None
    assert "boom in train" in failed.stderr, failed.stderr
    failed_run = failed.run

with Runner(flow_file, show_output=False) as runner:
    resumed = runner.resume(origin_run_id=failed_run.id)
    assert resumed.status == "successful", resumed.stderr
    assert resumed.returncode == 0
    assert resumed.run.successful
    assert resumed.run.data.total == 2.0, resumed.run.data.total
    assert resumed.run.origin_pathspec == failed_run.pathspec, resumed.run.origin_pathspec
    assert resumed.run.id != failed_run.id
    cloned = resumed.run["start"]
    assert cloned.origin_pathspec == failed_run.pathspec + "/start"
    assert cloned.task.origin_pathspec == failed_run["start"].task.pathspec
    assert cloned.task["doubled"].origin_pathspec == cloned.task.origin_pathspec + "/doubled"


async def notebook():
    nb = NBRunner(NotebookFlow, show_output=False)
    running = await nb.async_run()
    assert running.status in ("running", "successful"), running.status
    lines = [line async for _, line in running.stream_log("stdout")]
    await running.wait(timeout=120)
    assert running.status == "successful", running.stderr
    assert lines == running.stdout.splitlines()
    run = running.run
    nb.cleanup()
    return run


run = asyncio.run(notebook())
assert run.successful
assert run.data.answer == 42
assert "hello from the notebook flow" in run["start"].task.stdout
print("runner ok", failed_run.pathspec, run.pathspec)
