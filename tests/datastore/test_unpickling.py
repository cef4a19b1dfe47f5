"""Pickles read where they were not written: CUDA tensors on a machine without a GPU.

The payloads are made as a GPU machine makes them (see `cuda_tags`): PyTorch's own loaders
refuse them here, which each test checks first so that it cannot pass on a CPU payload.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from shipyard.datastore import ArtifactStore, BlobStore
from shipyard.datastore.unpickling import unpickle

from ..registry.flows.cuda_tags import CUDA_ERROR, saved_as_cuda

#: Where a storage saved on `cuda:0` comes back: that GPU if this process sees one.
RESTORED_ON = "cuda:0" if torch.cuda.is_available() else "cpu"


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(BlobStore(str(tmp_path / "store")))


def test_a_tensor_saved_on_a_gpu_is_read_onto_the_cpu_where_none_is_visible() -> None:
    tensor = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    with saved_as_cuda():
        stream = pickle.dumps(tensor, protocol=5)
    if RESTORED_ON == "cpu":
        with pytest.raises(RuntimeError, match=CUDA_ERROR):
            pickle.loads(stream)

    loaded = unpickle(stream)

    assert str(loaded.device) == RESTORED_ON
    assert torch.equal(loaded.cpu(), tensor)


def test_a_module_trained_on_a_gpu_round_trips_through_the_artifact_store(
    store: ArtifactStore,
) -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    inputs = torch.rand(5, 3)
    with saved_as_cuda():
        ref = store.save({"model": net, "epochs": 3})

    loaded = store.load(ref)

    model = loaded["model"]
    assert loaded["epochs"] == 3
    assert {str(p.device) for p in model.parameters()} == {RESTORED_ON}
    assert all(p.requires_grad for p in model.parameters())
    with torch.no_grad():
        assert torch.allclose(model(inputs.to(RESTORED_ON)).cpu(), net(inputs))


def test_reading_artifacts_without_tensors_does_not_import_torch(store: ArtifactStore) -> None:
    """Start-up matters: an artifact of plain data or NumPy arrays never pays for PyTorch."""
    ref = store.save({"scores": [0.5, 0.7], "name": "run"})
    script = (
        "import sys, numpy\n"
        "from shipyard.datastore import ArtifactRef, ArtifactStore, BlobStore\n"
        f"store = ArtifactStore(BlobStore({store.blobs.url!r}))\n"
        f"ref = ArtifactRef({ref.sha256!r}, {ref.type_name!r}, {ref.size}, {ref.encoding!r})\n"
        "assert store.load(ref) == {'scores': [0.5, 0.7], 'name': 'run'}\n"
        "assert store.load(store.save(numpy.arange(3))).tolist() == [0, 1, 2]\n"
        "print('torch' in sys.modules)\n"
    )

    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
