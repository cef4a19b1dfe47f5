"""Train a classifier, register it in the model registry from a step, and promote it.

Run it with `python register_model.py run`. The `train` step registers the model as the next
version of `cancer-classifier`, with its test accuracy, an inferred signature and lineage (this
run, step, task, parameters and code). The `promote` step points the `production` alias at the
new version when it beats the version there now; `shipyard models history cancer-classifier
production` then shows every promotion and `shipyard models rollback ...` undoes one.
"""

from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from shipyard import FlowSpec, Parameter, models, step
from shipyard.exceptions import ObjectNotFound

MODEL = "cancer-classifier"
# A few features keep the signature (and the JSON a scoring client sends) short.
FEATURES = ["mean radius", "mean texture", "mean smoothness", "worst area"]


class RegisterModelFlow(FlowSpec):
    """Train, register with lineage, promote to `production` if better."""

    C = Parameter("C", default=1.0, help="Inverse regularization strength.")

    @step
    def start(self):
        """Load the data set that ships with scikit-learn and hold out a test split."""
        data = load_breast_cancer(as_frame=True)
        features = data.data[FEATURES].rename(columns=lambda c: c.replace(" ", "_"))
        self.train_x, self.test_x, self.train_y, self.test_y = train_test_split(
            features, data.target, test_size=0.25, random_state=7, stratify=data.target
        )
        self.next(self.train)

    @step
    def train(self):
        """Fit, score and register: the version records this task as its lineage."""
        self.model = make_pipeline(StandardScaler(), LogisticRegression(C=self.C))
        self.model.fit(self.train_x, self.train_y)
        self.accuracy = float(self.model.score(self.test_x, self.test_y))
        version = models.register(
            MODEL,
            self.model,
            input_example=self.test_x.head(5),
            metrics={"accuracy": self.accuracy},
            description=f"logistic regression, C={self.C}",
        )
        self.version = version.version
        print(f"registered {version.ref}: accuracy {self.accuracy:.3f}")
        self.next(self.promote)

    @step
    def promote(self):
        """Move `production` to the new version unless the current one is at least as good."""
        try:
            current = models.get(f"{MODEL}@production")
        except ObjectNotFound:  # no production version yet
            current = None
        if current is None or current.metrics["accuracy"] < self.accuracy:
            models.set_alias(MODEL, "production", self.version)
            print(f"{MODEL}@production -> version {self.version}")
        else:
            print(f"kept {MODEL}@production at version {current.version}")
        self.next(self.end)

    @step
    def end(self):
        """Load whatever is in production now and score a few rows, as any consumer would."""
        production = models.load(f"{MODEL}@production")
        print(
            f"{production.name}/{production.version} predicts",
            production.predict(self.test_x.head(3)),
        )


if __name__ == "__main__":
    RegisterModelFlow()
