"""The GPU scenario of issue 10: import-time device check, 2-way foreach of GPU training.

`DEVICE` is chosen when the module is imported, as most PyTorch code does; `Net` is defined
in the flow file itself. Each `train` task asks for one GPU, trains on it and keeps the
trained module (CUDA tensors) as an artifact; `join` keeps the better one and registers it.
"""

import os

import torch

from shipyard import FlowSpec, resources, step
from shipyard.registry import models

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


class Net(torch.nn.Module):
    def __init__(self, n_inputs: int = 8, hidden: int = 32) -> None:
        super().__init__()
        self.n_inputs = n_inputs
        self.hidden = hidden
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(n_inputs, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class GpuFlow(FlowSpec):
    @step
    def start(self):
        import pandas as pd

        generator = torch.Generator().manual_seed(0)
        self.features = torch.randn(512, 8, generator=generator)
        self.target = self.features @ torch.linspace(-1, 1, 8) + 0.1
        self.example = pd.DataFrame(self.features[:8].numpy(), columns=[f"x{i}" for i in range(8)])
        self.seeds = [0, 1]
        self.next(self.train, foreach="seeds")

    @resources(gpu=1)
    @step
    def train(self):
        """Train one net on this task's GPU."""
        torch.manual_seed(self.input)
        model = Net().to(DEVICE)
        features, target = self.features.to(DEVICE), self.target.to(DEVICE)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        for _ in range(200):
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(model(features)[:, 0], target)
            loss.backward()
            optimizer.step()
        self.loss = float(loss)
        self.device_used = str(next(model.parameters()).device)
        self.visible_devices = os.environ.get("CUDA_VISIBLE_DEVICES")
        self.model = model  # CUDA tensors, stored as they are
        self.next(self.join)

    @step
    def join(self, inputs):
        """Keep the better net and register it."""
        best = min(inputs, key=lambda task: task.loss)
        self.model = best.model
        self.example = inputs[0].example
        self.version = models.register("gpu-net", self.model, input_example=self.example).ref
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    GpuFlow()
