"""Train a classifier with a hyperparameter sweep and keep the best model.

Run it with `python train_flow.py run` (or `make demo` from the project root), then look
at the result with `shipyard show TrainFlow/<run id>` or `Flow("TrainFlow").latest_run`.
"""

from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

# Imported at module level on purpose: every task forks from a worker that already has
# scikit-learn loaded, so no task pays for the import again.
from shipyard import FlowSpec, JSONType, Parameter, current, models, step

MODEL_NAME = "breast-cancer"


class TrainFlow(FlowSpec):
    """Breast-cancer classifier: load, split, sweep candidates in parallel, keep the best."""

    test_size = Parameter("test_size", default=0.2, help="Share of rows held out for testing.")
    seed = Parameter("seed", default=7, help="Random seed for the split and the models.")
    candidates = Parameter(
        "candidates",
        type=JSONType,
        default=[
            {"kind": "logistic", "C": 0.1},
            {"kind": "logistic", "C": 1.0},
            {"kind": "logistic", "C": 10.0},
            {"kind": "forest", "n_estimators": 50, "max_depth": 4},
            {"kind": "forest", "n_estimators": 100, "max_depth": None},
            {"kind": "boosting", "n_estimators": 100, "learning_rate": 0.1},
        ],
        help="Model configurations to try, as a JSON list.",
    )

    @step
    def start(self):
        """Load the data set that ships with scikit-learn and split it three ways."""
        data = load_breast_cancer(as_frame=True)
        features, labels = data.data, data.target
        rest_x, self.test_x, rest_y, self.test_y = train_test_split(
            features, labels, test_size=self.test_size, random_state=self.seed, stratify=labels
        )
        self.train_x, self.valid_x, self.train_y, self.valid_y = train_test_split(
            rest_x, rest_y, test_size=0.25, random_state=self.seed, stratify=rest_y
        )
        print(f"{len(self.train_x)} training rows, {len(self.valid_x)} validation rows")
        self.next(self.train, foreach="candidates")

    @step
    def train(self):
        """Fit one candidate configuration and score it on the validation rows."""
        self.config = self.input
        self.model = build_model(self.config, self.seed)
        self.model.fit(self.train_x, self.train_y)
        self.valid_score = float(self.model.score(self.valid_x, self.valid_y))
        print(f"{self.config} -> validation accuracy {self.valid_score:.4f}")
        self.next(self.choose)

    @step
    def choose(self, inputs):
        """Keep the candidate with the best validation accuracy."""
        best = max(inputs, key=lambda task: task.valid_score)
        self.model = best.model
        self.config = best.config
        self.valid_score = best.valid_score
        self.leaderboard = sorted(
            ((task.valid_score, task.config) for task in inputs), key=lambda r: -r[0]
        )
        self.merge_artifacts(inputs, include=["test_x", "test_y"])
        self.next(self.end)

    @step
    def end(self):
        """Report the chosen model on the untouched test rows, register it, promote it."""
        self.test_score = float(self.model.score(self.test_x, self.test_y))
        print(f"run {current.run_id}: best {self.config}")
        print(f"validation {self.valid_score:.4f}, test {self.test_score:.4f}")
        version = models.register(
            MODEL_NAME,
            self.model,
            input_example=self.test_x.head(5),
            metrics={"valid_accuracy": self.valid_score, "test_accuracy": self.test_score},
            description=f"best of the sweep: {self.config}",
        )
        models.set_alias(MODEL_NAME, "production", version.version)
        self.registered_version = version.version
        print(f"registered {version.ref} and moved {MODEL_NAME}@production to it")


def build_model(config: dict, seed: int):
    """Turn a JSON candidate into an unfitted scikit-learn estimator."""
    settings = {k: v for k, v in config.items() if k != "kind"}
    if config["kind"] == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, **settings))
    if config["kind"] == "forest":
        return RandomForestClassifier(random_state=seed, **settings)
    if config["kind"] == "boosting":
        return GradientBoostingClassifier(random_state=seed, **settings)
    raise ValueError(f"unknown model kind {config['kind']!r}")


if __name__ == "__main__":
    TrainFlow()
