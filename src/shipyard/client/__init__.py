"""The client API: read flows, runs, steps, tasks and artifacts from the stores.

    from shipyard.client import Flow, Run, namespace

    run = Flow("TrainFlow").latest_successful_run
    print(run.data.model, run["train"].task.stdout)

Everything here only reads the metadata store and the datastore (tags are the one thing it
writes), so it works the same from a notebook, the `shipyard` CLI or the web UI.
"""

from __future__ import annotations

from shipyard.client.context import ClientContext
from shipyard.client.data import DataArtifact, TaskData
from shipyard.client.namespace import default_namespace, get_namespace, in_namespace, namespace
from shipyard.client.objects import Flow, Run, Step, Task, flows, from_pathspec, runs
from shipyard.metadata.records import RunStatus, TaskStatus

__all__ = [
    "ClientContext",
    "DataArtifact",
    "Flow",
    "Run",
    "RunStatus",
    "Step",
    "Task",
    "TaskData",
    "TaskStatus",
    "default_namespace",
    "flows",
    "from_pathspec",
    "get_namespace",
    "in_namespace",
    "namespace",
    "runs",
]
