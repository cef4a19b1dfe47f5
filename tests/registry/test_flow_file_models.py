"""A model class written in the flow file, trained on a GPU, is read back anywhere.

The flow `cuda_net_flow.py` defines `Net` next to its steps (so it is pickled as
`__main__.Net`) and stores tensors exactly as a GPU machine does. A reader in another process
and directory, on this machine without a GPU, gets the model back through the client and
through the registry: the class comes from the run's code snapshot, the weights onto the CPU.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
import torch

from shipyard import Flow
from shipyard.registry import models
from shipyard.registry.flavors import FlavorError

from ..conftest import Home
from .conftest import FLOWS
from .flows.cuda_tags import CUDA_ERROR

READER = """
import json

import pandas as pd
import torch

from shipyard import Flow
from shipyard.registry import models

frame = pd.DataFrame({"x1": [0.0, 1.0, 2.0], "x2": [1.0, 0.0, 1.0]})
model = Flow("CudaNetFlow").latest_run["train"].task.data.model
loaded = models.load("flow-net")
with torch.no_grad():
    output = model(torch.tensor(frame.to_numpy(dtype="float32")))
print(json.dumps({
    "artifact": output[:, 0].tolist(),
    "artifact_class": [type(model).__module__, type(model).__qualname__],
    "artifact_device": str(next(model.parameters()).device),
    "registered": loaded.predict(frame),
    "registered_class": type(loaded.model).__qualname__,
    "registered_device": str(next(loaded.model.parameters()).device),
}))
"""


def run_cuda_net_flow(home: Home) -> None:
    done = home.run_flow(FLOWS / "cuda_net_flow.py", "run")
    assert done.returncode == 0, done.stdout + done.stderr


def read_elsewhere(home: Home, script: str) -> subprocess.CompletedProcess[str]:
    """`script` run by a fresh interpreter in an empty directory: nothing defines `Net`."""
    elsewhere = home.root / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-c", script],
        env=home.env,
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_flow_file_model_saved_on_a_gpu_is_read_back_outside_the_flow(home: Home) -> None:
    run_cuda_net_flow(home)
    task = Flow("CudaNetFlow").latest_run["train"].task
    expected = task.data.expected

    reader = read_elsewhere(home, READER)

    assert reader.returncode == 0, reader.stderr
    result = json.loads(reader.stdout)
    assert result["artifact"] == pytest.approx(expected)
    assert result["registered"] == pytest.approx(expected)
    assert result["artifact_class"][0].startswith("_shipyard_flow_")
    assert result["artifact_class"][1] == result["registered_class"] == "Net"
    assert result["artifact_device"] == result["registered_device"] == "cpu"


def test_the_run_stored_what_a_gpu_machine_stores(home: Home) -> None:
    """The fixture is real: PyTorch's own loader refuses the registered weights here."""
    run_cuda_net_flow(home)
    version = models.get("flow-net")
    payload = bytes(models.registry().artifacts.blobs.get(version.payload_sha256))

    with pytest.raises(RuntimeError, match=CUDA_ERROR):
        torch.load(io.BytesIO(payload), weights_only=True)
    document = torch.load(io.BytesIO(payload), weights_only=True, map_location="cpu")
    assert document["class_path"] == "__main__:Net"
    task = Flow("CudaNetFlow").latest_run["train"].task
    assert b"cuda:0" in bytes(models.registry().artifacts.blobs.get(task["model"].sha))


def test_a_registered_model_loads_onto_the_cpu_and_refuses_a_device_not_here(
    home: Home,
) -> None:
    run_cuda_net_flow(home)
    # A device index past the GPUs this process sees: none here, any count on a GPU host.
    missing = f"cuda:{torch.cuda.device_count() if torch.cuda.is_available() else 0}"

    loaded = models.load("flow-net", device="cpu")

    assert next(loaded.model.parameters()).device.type == "cpu"
    with pytest.raises(FlavorError, match=rf"device '{missing}' was asked for, but this"):
        models.load("flow-net", device=missing)


REGISTER_FROM_MAIN = """
import torch

from shipyard.registry import models


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)


models.register("main-net", Net())
"""


def test_a_flow_file_class_registered_outside_a_run_is_refused_clearly(home: Home) -> None:
    done = read_elsewhere(home, REGISTER_FROM_MAIN)

    assert done.returncode != 0
    assert "is not registered from a run of that flow. Register it inside a step" in done.stderr
