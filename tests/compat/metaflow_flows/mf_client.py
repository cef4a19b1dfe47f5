"""Reads results with Metaflow's client API; the test swaps the import line to Shipyard."""

import sys

from metaflow import Flow, Run, namespace

namespace(None)
run = Flow("ShowcaseFlow").latest_successful_run
assert run.successful and run.finished
assert run.data.report == "demo:12", run.data.report
assert run.data.branch_values == ["L", "R"]
assert run.data.constant == "kept"
same = Run(run.pathspec)
assert [t.data.x for t in same["fan"]] == [1, 2, 3]
assert len(list(same["inner"])) == 6
assert same["prepare"].task.data.prepared_by == "prepare"
print("client ok", run.pathspec, file=sys.stdout)
