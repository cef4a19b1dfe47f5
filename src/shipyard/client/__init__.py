"""The client API: read flows, runs, steps, tasks and artifacts from the stores.

    from shipyard.client import Flow, Run, namespace

    run = Flow("TrainFlow").latest_successful_run
    print(run.data.model, run["train"].task.stdout)

Everything here only reads the metadata store and the datastore (tags are the one thing it
writes), so it works the same from a notebook, the `shipyard` CLI or the web UI.

Names load on first use: `import shipyard` imports `client.related`, which runs this file,
and must stay as light as the authoring API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipyard.lazy import lazy_exports

if TYPE_CHECKING:
    from shipyard.client.context import ClientContext
    from shipyard.client.data import DataArtifact, TaskArtifacts, TaskData
    from shipyard.client.entry import Metaflow
    from shipyard.client.namespaces import (
        default_namespace,
        get_namespace,
        in_namespace,
        namespace,
    )
    from shipyard.client.objects import Flow, Run, Step, Task, flows, from_pathspec, runs
    from shipyard.client.stores import default_metadata, get_metadata, metadata
    from shipyard.metadata.records import RunStatus, TaskStatus

__all__ = [
    "ClientContext",
    "DataArtifact",
    "Flow",
    "Metaflow",
    "Run",
    "RunStatus",
    "Step",
    "Task",
    "TaskArtifacts",
    "TaskData",
    "TaskStatus",
    "default_metadata",
    "default_namespace",
    "flows",
    "from_pathspec",
    "get_metadata",
    "get_namespace",
    "in_namespace",
    "metadata",
    "namespace",
    "runs",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "ClientContext": "shipyard.client.context",
        "DataArtifact": "shipyard.client.data",
        "TaskArtifacts": "shipyard.client.data",
        "TaskData": "shipyard.client.data",
        "Metaflow": "shipyard.client.entry",
        "metadata": "shipyard.client.stores",
        "get_metadata": "shipyard.client.stores",
        "default_metadata": "shipyard.client.stores",
        "default_namespace": "shipyard.client.namespaces",
        "get_namespace": "shipyard.client.namespaces",
        "in_namespace": "shipyard.client.namespaces",
        "namespace": "shipyard.client.namespaces",
        "Flow": "shipyard.client.objects",
        "Run": "shipyard.client.objects",
        "Step": "shipyard.client.objects",
        "Task": "shipyard.client.objects",
        "flows": "shipyard.client.objects",
        "from_pathspec": "shipyard.client.objects",
        "runs": "shipyard.client.objects",
        "RunStatus": "shipyard.metadata.records",
        "TaskStatus": "shipyard.metadata.records",
    },
)
