"""Save the benchmark model in MLflow's format, for `mlflow models serve` (peer side)."""

import json
import pickle
import sys
from pathlib import Path

import mlflow.sklearn
import pandas as pd


def main(model_dir: Path, target: Path) -> None:
    model = pickle.loads((model_dir / "model.pkl").read_bytes())
    example = pd.DataFrame(json.loads((model_dir / "example.json").read_text()))
    mlflow.sklearn.save_model(model, str(target), input_example=example.head(5))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
