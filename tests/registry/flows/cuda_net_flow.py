"""A model class defined in the flow file itself, trained where tensors are saved as CUDA's.

`Net` is pickled as `__main__.Net`, and `cuda_tags` makes every tensor this run stores look
as saved from a GPU: reading the model anywhere else needs both the run's code snapshot and
the mapping of CUDA storages to the CPU.
"""

import torch
from cuda_tags import tag_storages_as_cuda

from shipyard import FlowSpec, step
from shipyard.registry import models


class Net(torch.nn.Module):
    def __init__(self, n_inputs: int = 2) -> None:
        super().__init__()
        self.n_inputs = n_inputs
        self.linear = torch.nn.Linear(n_inputs, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


class CudaNetFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train)

    @step
    def train(self):
        """Train (here: initialise) the net, keep it as an artifact and register it."""
        import pandas as pd

        tag_storages_as_cuda()
        torch.manual_seed(0)
        self.model = Net()
        frame = pd.DataFrame({"x1": [0.0, 1.0, 2.0], "x2": [1.0, 0.0, 1.0]})
        with torch.no_grad():
            output = self.model(torch.tensor(frame.to_numpy(dtype="float32")))
        self.expected = output[:, 0].tolist()
        self.registered = models.register("flow-net", self.model, input_example=frame).ref
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CudaNetFlow()
