"""A hyperparameter sweep that runs on Ray unchanged, and a step that uses Ray itself.

python examples/ray_sweep.py run --executor ray                 # this machine's cluster,
                                                                # else a local instance
python examples/ray_sweep.py run --executor ray --ray-address HEAD:6379
"""

from shipyard import FlowSpec, JSONType, Parameter, resources, retry, step


class RaySweepFlow(FlowSpec):
    """Train one model per regularization strength, keep the best, score it in parallel."""

    strengths = Parameter(
        "strengths", type=JSONType, default=[0.01, 0.1, 1.0, 10.0], help="Values of C to try."
    )

    @step
    def start(self):
        """Split a dataset that ships with scikit-learn (no download)."""
        from sklearn.datasets import load_breast_cancer
        from sklearn.model_selection import train_test_split

        x, y = load_breast_cancer(return_X_y=True, as_frame=True)
        self.train_x, self.valid_x, self.train_y, self.valid_y = train_test_split(
            x, y, test_size=0.3, random_state=0
        )
        self.grid = list(self.strengths)
        self.next(self.train, foreach="grid")

    @resources(cpu=1)
    @retry(times=1)
    @step
    def train(self):
        """One candidate per task: on Ray, each is a Ray task asking for one CPU."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.C = self.input
        pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=self.C, max_iter=2000))
        self.model = pipeline.fit(self.train_x, self.train_y)
        self.score = self.model.score(self.valid_x, self.valid_y)
        print(f"C={self.C}: validation accuracy {self.score:.3f}")
        self.next(self.choose)

    @step
    def choose(self, inputs):
        """Keep the candidate with the best validation accuracy."""
        best = max(inputs, key=lambda candidate: candidate.score)
        self.model, self.C, self.score = best.model, best.C, best.score
        self.merge_artifacts(inputs, include=["valid_x", "valid_y"])
        self.next(self.score_in_parallel)

    @step
    def score_in_parallel(self):
        """Data-parallel work inside a step: score chunks of rows as Ray tasks of its own.

        On the Ray executor the step is already connected to the run's cluster; on the local
        executor `ray.init(address="local")` starts a private instance for this step.
        """
        import numpy as np
        import ray

        if not ray.is_initialized():
            ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)

        @ray.remote
        def predict(model, rows):
            return model.predict(rows)

        model = ray.put(self.model)
        chunks = np.array_split(self.valid_x, 4)
        predicted = np.concatenate(ray.get([predict.remote(model, rows) for rows in chunks]))
        self.accuracy = float((predicted == self.valid_y.to_numpy()).mean())
        self.next(self.end)

    @step
    def end(self):
        """Report the winner."""
        print(f"best C={self.C}: accuracy {self.accuracy:.3f} on {len(self.valid_y)} rows")


if __name__ == "__main__":
    RaySweepFlow()
