"""Metaflow's @parallel: a gang of tasks that rendezvous with torch.distributed."""

import os
import socket
from datetime import timedelta

import torch
import torch.distributed as dist
from metaflow import FlowSpec, Parameter, current, parallel, step


class GangFlow(FlowSpec):
    """Each node adds its rank; all-reduce gives every node the sum."""

    nodes = Parameter("nodes", default=3, type=int)

    @step
    def start(self):
        with socket.socket() as probe:  # a free port for the gang's rendezvous
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.next(self.train, num_parallel=self.nodes)

    @parallel
    @step
    def train(self):
        info = current.parallel
        dist.init_process_group(
            "gloo",
            init_method=f"tcp://{info.main_ip}:{self.port}",
            rank=info.node_index,
            world_size=info.num_nodes,
            timeout=timedelta(seconds=60),
        )
        total = torch.tensor([float(info.node_index)])
        dist.all_reduce(total)
        dist.destroy_process_group()
        self.rank = info.node_index
        self.total = int(total.item())
        self.control = info.control_task_id
        self.main_ip = info.main_ip
        self.env_rank = os.environ["MF_PARALLEL_NODE_INDEX"]
        self.next(self.join)

    @step
    def join(self, inputs):
        self.ranks = sorted(i.rank for i in inputs)
        self.totals = sorted({i.total for i in inputs})
        self.controls = sorted({i.control for i in inputs})
        self.main_ips = sorted({i.main_ip for i in inputs})
        self.env_ranks = sorted(i.env_rank for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print(f"gang ranks {self.ranks} totals {self.totals}")


if __name__ == "__main__":
    GangFlow()
