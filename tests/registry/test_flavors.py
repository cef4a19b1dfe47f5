"""Each flavor saves, loads and scores its kind of model through the registry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import xgboost
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from shipyard.registry import ModelRegistry
from shipyard.registry.flavors import FlavorError, detect_flavor, get_flavor

from .custom_models import OpaqueNet, ThresholdModel, TinyNet


def test_sklearn_pipeline_round_trips(
    registry: ModelRegistry, frame: pd.DataFrame, labels: list[int]
) -> None:
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(frame, labels)

    version = registry.register("clf", model, input_example=frame)
    loaded = registry.load("clf")

    assert version.flavor == "sklearn"
    assert loaded.predict(frame) == model.predict(frame).tolist()
    assert type(loaded.model) is type(model)


def test_xgboost_sklearn_api_model_round_trips_in_native_json(
    registry: ModelRegistry, frame: pd.DataFrame, labels: list[int]
) -> None:
    model = xgboost.XGBRegressor(n_estimators=5, max_depth=2).fit(frame, labels)

    version = registry.register("xgb", model, input_example=frame)
    loaded = registry.load("xgb/1")

    assert version.flavor == "xgboost"
    assert isinstance(loaded.model, xgboost.XGBRegressor)
    assert loaded.predict(frame) == pytest.approx(model.predict(frame).tolist())
    payload = json.loads(bytes(registry.artifacts.blobs.get(version.payload_sha256)))
    assert "learner" in json.loads(payload["model"])  # XGBoost's own JSON, not a pickle


def test_xgboost_booster_round_trips(
    registry: ModelRegistry, frame: pd.DataFrame, labels: list[int]
) -> None:
    booster = xgboost.train(
        {"max_depth": 2}, xgboost.DMatrix(frame, label=labels), num_boost_round=3
    )

    registry.register("booster", booster, input_example=frame)
    loaded = registry.load("booster")

    assert isinstance(loaded.model, xgboost.Booster)
    expected = booster.predict(xgboost.DMatrix(frame)).tolist()
    assert loaded.predict(frame) == pytest.approx(expected)


def test_pytorch_module_round_trips_as_state_dict_and_class_path(
    registry: ModelRegistry, frame: pd.DataFrame
) -> None:
    torch.manual_seed(0)
    net = TinyNet(n_inputs=2, hidden=3)
    with torch.no_grad():
        expected = net(torch.tensor(frame.to_numpy(dtype="float32")))[:, 0].tolist()

    version = registry.register("net", net, input_example=frame)
    loaded = registry.load("net")

    assert version.flavor == "pytorch"
    assert version.signature is not None and version.signature.output == "float"
    assert isinstance(loaded.model, TinyNet)
    assert (loaded.model.n_inputs, loaded.model.hidden) == (2, 3)
    assert loaded.predict(frame) == pytest.approx(expected)


def test_pytorch_uses_init_kwargs_when_the_constructor_arguments_are_not_kept(
    registry: ModelRegistry, frame: pd.DataFrame
) -> None:
    net = OpaqueNet(width=2)
    with pytest.raises(FlavorError, match=r"store it as `self\.width`"):
        registry.register("opaque", net)

    net.init_kwargs = {"width": 2}
    registry.register("opaque", net)
    predictions = registry.load("opaque").predict(frame)
    assert np.ravel(predictions).tolist() == pytest.approx(
        net(torch.tensor(frame.to_numpy(dtype="float32"))).detach().numpy().ravel().tolist()
    )


def test_pytorch_refuses_a_class_that_cannot_be_imported_again(registry: ModelRegistry) -> None:
    class LocalNet(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    with pytest.raises(FlavorError, match="must be defined at module level"):
        registry.register("local", LocalNet())


def test_python_flavor_takes_any_object_with_predict(registry: ModelRegistry) -> None:
    frame = pd.DataFrame({"x": [0.1, 0.9]})

    version = registry.register("rule", ThresholdModel(0.5), input_example=frame)

    assert version.flavor == "python"
    assert version.signature is not None and version.signature.output == "integer"
    assert registry.load("rule").predict(frame) == [0, 1]


def test_flavors_are_detected_most_specific_first(frame: pd.DataFrame, labels: list[int]) -> None:
    assert detect_flavor(xgboost.XGBClassifier()).name == "xgboost"
    assert detect_flavor(LogisticRegression()).name == "sklearn"
    assert detect_flavor(TinyNet(2)).name == "pytorch"
    assert detect_flavor(ThresholdModel(0.5)).name == "python"


def test_an_object_no_flavor_knows_is_refused_clearly(registry: ModelRegistry) -> None:
    with pytest.raises(FlavorError, match=r"no flavor knows how to save a builtins\.dict"):
        registry.register("nothing", {"weights": [1, 2]})


def test_an_unknown_flavor_name_lists_the_known_ones(registry: ModelRegistry) -> None:
    with pytest.raises(FlavorError, match="unknown model flavor 'onnx'; use one of: xgboost"):
        registry.register("m", ThresholdModel(0.5), flavor="onnx")
    with pytest.raises(FlavorError):
        get_flavor("onnx")


def test_a_flavor_that_does_not_fit_the_model_is_refused(registry: ModelRegistry) -> None:
    with pytest.raises(FlavorError, match="the python flavor needs an object with a predict"):
        registry.register("m", np.zeros(3), flavor="python")


def test_pytorch_predict_prints_no_numpy_warning() -> None:
    """In a fresh interpreter with warnings as errors: PyTorch warns once per process, so a
    test process that has predicted before would not see it."""
    script = (
        "import pandas as pd\n"
        "from shipyard.registry.flavors import get_flavor\n"
        "from tests.registry.custom_models import TinyNet\n"
        "frame = pd.DataFrame({'x1': [0.0, 1.0], 'x2': [1.0, 0.0]})\n"
        "for _ in range(3):\n"
        "    get_flavor('pytorch').predict(TinyNet(n_inputs=2), frame)\n"
    )
    root = Path(__file__).parents[2]
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
