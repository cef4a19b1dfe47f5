"""A branch whose task is lost with its Ray node, beside a branch that must keep going.

Made for a cluster of two nodes: the head with two CPUs and no GPU, another node with one
CPU and one (declared) GPU. `doomed` asks for the GPU, so it runs on the other node: it
prints, says which node it runs on, and waits for a file nobody creates, until the test
kills its node. Every later step asks for two CPUs, which only the head has, so nothing else
is lost with the node. `steady` finishes only once the node is killed; `end` records which
nodes Ray still lists as alive when the run is done.
"""

import time
from pathlib import Path

from shipyard import FlowSpec, Parameter, catch, resources, step


def signal(folder: str, name: str, text: str = "") -> None:
    """Create `name` in `folder` whole (a reader never sees it half-written)."""
    temp = Path(folder, f".{name}.tmp")
    temp.write_text(text)
    temp.rename(Path(folder, name))


def await_signal(folder: str, name: str) -> None:
    while not Path(folder, name).exists():
        time.sleep(0.05)


def this_node() -> str:
    import ray

    return ray.get_runtime_context().get_node_id()


class NodeLossFlow(FlowSpec):
    signals = Parameter("signals", help="the folder the test and the steps signal through")

    @step
    def start(self):
        self.next(self.doomed, self.steady)

    @catch(var="problem")
    @resources(gpu=1)
    @step
    def doomed(self):
        print("doomed started")
        signal(self.signals, "doomed", this_node())
        await_signal(self.signals, "never")
        self.next(self.join)

    @resources(cpu=2)
    @step
    def steady(self):
        await_signal(self.signals, "killed")
        self.node = this_node()
        self.next(self.join)

    @resources(cpu=2)
    @step
    def join(self, inputs):
        self.steady_node = inputs.steady.node
        self.next(self.end)

    @resources(cpu=2)
    @step
    def end(self):
        import ray

        self.listed_alive = [node["NodeID"] for node in ray.nodes() if node["Alive"]]


if __name__ == "__main__":
    NodeLossFlow()
