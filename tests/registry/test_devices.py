"""Models load onto the CPU unless a device is asked for, whatever they were trained on."""

from __future__ import annotations

import io

import pandas as pd
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from shipyard.registry import ModelRegistry
from shipyard.registry.flavors import FlavorError
from shipyard.registry.flavors.devices import DeviceError, check_device

from .custom_models import TinyNet
from .flows.cuda_tags import CUDA_ERROR, saved_as_cuda


def test_a_pytorch_model_saved_on_a_gpu_loads_onto_the_cpu_by_default(
    registry: ModelRegistry, frame: pd.DataFrame
) -> None:
    torch.manual_seed(0)
    net = TinyNet(n_inputs=2, hidden=3)
    with torch.no_grad():
        expected = net(torch.tensor(frame.to_numpy(dtype="float32")))[:, 0].tolist()
    with saved_as_cuda():
        version = registry.register("net", net)
    payload = bytes(registry.artifacts.blobs.get(version.payload_sha256))
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match=CUDA_ERROR):
            torch.load(io.BytesIO(payload), weights_only=True)

    loaded = registry.load("net")

    assert {p.device.type for p in loaded.model.parameters()} == {"cpu"}
    assert loaded.predict(frame) == pytest.approx(expected)


def test_cpu_only_flavors_refuse_another_device_instead_of_ignoring_it(
    registry: ModelRegistry, frame: pd.DataFrame, labels: list[int]
) -> None:
    registry.register("clf", LogisticRegression().fit(frame, labels))

    with pytest.raises(FlavorError, match=r"sklearn flavor loads models onto the CPU only"):
        registry.load("clf", device="cuda")
    assert registry.load("clf", device="cpu").predict(frame) == [0, 0, 0, 0, 1, 1, 1, 1]


def test_a_device_name_that_is_not_one_is_refused_before_loading(
    registry: ModelRegistry,
) -> None:
    registry.register("net", TinyNet(n_inputs=2))

    with pytest.raises(DeviceError, match=r"'gpu' is not a device: use 'cpu', 'cuda'"):
        registry.load("net", device="gpu")
    assert check_device("cpu") == "cpu"
