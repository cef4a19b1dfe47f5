"""`@parallel`: a step run as a gang of N tasks started together, as in Metaflow.

`self.next(self.train, num_parallel=4)` starts four tasks of `train` at once; each sees its
place through `current.parallel` (node_index, num_nodes, and main_ip, the address of node 0,
where torch.distributed and the like rendezvous). The next step joins them. The scheduler
starts a gang only when all of its tasks can start; executors place them (local processes on
127.0.0.1).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar

from shipyard.flow.hooks import StepContext, StepDecorator

#: The `var` of the foreach frame a gang member sits in: a gang splits over no artifact, and
#: `self.input` in a member is its node index.
GANG_FRAME_VAR = "_parallel"

#: Environment variables Metaflow sets in a gang's tasks; code written for Metaflow reads them.
ENVIRONMENT = {
    "main_ip": "MF_PARALLEL_MAIN_IP",
    "num_nodes": "MF_PARALLEL_NUM_NODES",
    "node_index": "MF_PARALLEL_NODE_INDEX",
    "control_task_id": "MF_PARALLEL_CONTROL_TASK_ID",
}


@dataclass(frozen=True)
class Parallel:
    """Where a task sits in its gang: `current.parallel` (one node outside a gang).

    `control_task_id` is the task id of node 0, which Metaflow calls the control task.
    """

    main_ip: str = "127.0.0.1"
    num_nodes: int = 1
    node_index: int = 0
    control_task_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "main_ip": self.main_ip,
            "num_nodes": self.num_nodes,
            "node_index": self.node_index,
            "control_task_id": self.control_task_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Parallel:
        return cls(
            main_ip=data["main_ip"],
            num_nodes=int(data["num_nodes"]),
            node_index=int(data["node_index"]),
            control_task_id=data["control_task_id"],
        )


@dataclass
class parallel(StepDecorator):
    """Mark a step that runs as a gang (`self.next(self.<step>, num_parallel=N)`).

    Before the step runs, Metaflow's `MF_PARALLEL_*` variables are set from
    `current.parallel`, so launchers written for Metaflow find the gang.
    """

    name: ClassVar[str] = "parallel"

    def before_step(self, context: StepContext) -> None:
        from shipyard.flow.current import current

        place = current.parallel or Parallel()
        for field, variable in ENVIRONMENT.items():
            value = getattr(place, field)
            if value is not None:
                os.environ[variable] = str(value)
