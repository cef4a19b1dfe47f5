"""Register the benchmark model in Shipyard as `bench-model@production`."""

import json
import pickle
import sys
from pathlib import Path

import pandas as pd

from shipyard import models


def main(model_dir: Path) -> None:
    model = pickle.loads((model_dir / "model.pkl").read_bytes())
    example = pd.DataFrame(json.loads((model_dir / "example.json").read_text()))
    version = models.register("bench-model", model, input_example=example.head(5))
    models.set_alias("bench-model", "production", version.version)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
