"""The model both scoring servers serve: logistic regression on scikit-learn's breast cancer.

`python serving_model.py OUT_DIR` writes `model.pkl` (the fitted pipeline) and
`example.json` (rows in records form). Both tools register this one pickle, so they serve
byte-for-byte the same model.
"""

import pickle
import sys
from pathlib import Path

from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def main(out: Path) -> None:
    data = load_breast_cancer(as_frame=True)
    features = data.data.rename(columns=lambda c: c.replace(" ", "_"))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(features, data.target)
    out.mkdir(parents=True, exist_ok=True)
    (out / "model.pkl").write_bytes(pickle.dumps(model))
    (out / "example.json").write_text(features.head(200).to_json(orient="records"))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
