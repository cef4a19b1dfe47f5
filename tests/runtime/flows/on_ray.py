"""What only a task running as a Ray task can know, recorded as evidence for the Ray tests.

The local executor never initializes Ray in a task process, so there `ray_task()` is None;
on Ray it names the function Ray is running (Shipyard's task body), the Ray task and the
cluster the worker belongs to: nothing the local executor could produce.
"""

import sys


def ray_task():
    ray = sys.modules.get("ray")  # a Ray worker has imported it; asking must not import it
    if ray is None or not ray.is_initialized():
        return None
    context = ray.get_runtime_context()
    return {
        "function": context.get_task_function_name(),
        "task_id": context.get_task_id(),
        "cluster": context.gcs_address,
    }
