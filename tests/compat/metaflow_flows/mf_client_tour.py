"""Metaflow's documented client API, as notebook code uses it; the test swaps the import line.

The first argument is the store the run was recorded in: the script finds it with
`metadata(...)`, as Metaflow code points its client at a metadata provider.
"""

import sys
from datetime import datetime

from metaflow import (
    Flow,
    Metaflow,
    Run,
    default_namespace,
    get_metadata,
    get_namespace,
    metadata,
    namespace,
)

# -- where the client reads, and which namespace --------------------------------------
assert metadata(sys.argv[1]).startswith("local@"), get_metadata()
assert get_metadata().startswith("local@")
assert get_namespace() == "user:tester", get_namespace()
assert default_namespace() == "user:tester"
assert "TourFlow" in [flow.id for flow in Metaflow().flows]

# -- flow and run ---------------------------------------------------------------------
flow = Flow("TourFlow")
run = flow.latest_run
assert run.id in flow and "424242" not in flow
assert flow.parent is None and run.parent == flow
assert run.pathspec == "TourFlow/" + run.id
assert run.path_components == ["TourFlow", run.id]
assert run.user_tags == {"nightly"}, run.user_tags
assert {"user:tester", "nightly"} <= run.tags and "user:tester" in run.system_tags
assert isinstance(run.created_at, datetime) and run.created_at <= datetime.now()
assert run.created_at <= run.finished_at <= datetime.now()
assert run.origin_pathspec is None
assert run.trigger is None
assert run.end_task.data.summary == "A,B"
assert run.end_task.pathspec == run["end"].task.pathspec
assert "work" in run and "nope" not in run

run.add_tags(["a", "b"])
run.remove_tag("a")
run.replace_tag("b", "c")
run.replace_tags(["nightly"], ["d"])
assert run.user_tags == {"c", "d"}, run.user_tags
assert Run(run.pathspec).user_tags == {"c", "d"}

# -- steps and tasks ------------------------------------------------------------------
work = run["work"]
assert work.parent == run and work.path_components == ["TourFlow", run.id, "work"]
tasks = list(work)
assert len(tasks) == 2 and tasks[0].id in work and "999" not in work
assert all(task.parent == work and "nightly" not in task.tags for task in tasks)

start = run["start"].task
assert "starting 0.5" in start.stdout and "a warning" in start.stderr
assert [line for _, line in start.loglines("stdout")] == ["starting 0.5"]
assert all(isinstance(stamp, datetime) for stamp, _ in start.loglines("stderr"))
assert sorted(t.pathspec for t in start.child_tasks) == sorted(t.pathspec for t in tasks)
assert all([p.pathspec for p in task.parent_tasks] == [start.pathspec] for task in tasks)

flaky = next(task for task in tasks if task.index == 1)
assert flaky.current_attempt == 1, flaky.current_attempt
assert "flaky b" in str(flaky.exception), flaky.exception
assert flaky.metadata_dict["attempt"] == "1" and flaky.metadata_dict["user"] == "tester"
assert "class TourFlow" in flaky.code.flowspec
assert flaky.finished_at >= flaky.created_at

# -- artifacts ------------------------------------------------------------------------
assert flaky.artifacts.result.data == "B"
assert "result" in [artifact.id for artifact in flaky.artifacts]
assert flaky.data.result == "B" and "result" in flaky
result = flaky["result"]
assert result.parent == flaky and result.path_components[-1] == "result"
assert result.tags == run.tags
assert result.created_at == flaky.finished_at
assert flow.origin_pathspec is None and result.origin_pathspec is None

namespace(None)
assert get_namespace() is None
print("client tour ok", run.pathspec)
