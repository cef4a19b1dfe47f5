"""Model classes the registry tests save and load: importable, as a real project's would be."""

from __future__ import annotations

from typing import Any

import torch


class ThresholdModel:
    """A hand-written model for the `python` flavor: 1 where `x` exceeds a threshold."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def predict(self, frame: Any) -> list[int]:
        return [int(value > self.threshold) for value in frame["x"]]


class TinyNet(torch.nn.Module):
    """A two-layer network whose constructor arguments are kept as attributes."""

    def __init__(self, n_inputs: int, hidden: int = 4) -> None:
        super().__init__()
        self.n_inputs = n_inputs
        self.hidden = hidden
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(n_inputs, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class OpaqueNet(torch.nn.Module):
    """A network whose constructor argument is not kept: it must declare `init_kwargs`."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(width, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)
