"""Written for Metaflow's public API (2.13+); the test only swaps the import line to Shipyard."""

import os
import sys

from metaflow import (
    Config,
    FlowSpec,
    IncludeFile,
    Parameter,
    config_expr,
    environment,
    resources,
    step,
)


def default_label(context):
    return f"{context.flow_name}-by-{context.user_name}"


class RunningFlow(FlowSpec):
    """IncludeFile, Config in decorators, dashed/list/computed parameters, printing steps."""

    movies = IncludeFile("movies", default="movies.csv", is_text=True, encoding="utf-8")
    cfg = Config("cfg", default="config.json")
    settings = Config("settings", default="settings.toml", parser="tomllib.loads")
    batch_size = Parameter("batch-size", type=int, default=8, help="Rows per batch")
    genres = Parameter("genres", default="drama,comedy", separator=",")
    label = Parameter("label", default=default_label)

    @resources(cpu=config_expr("cfg.cpu"), memory=cfg.memory)
    @environment(vars={"MODE": config_expr("settings.run.mode.upper()")})
    @step
    def start(self):
        self.mode = os.environ["MODE"]
        self.rows = self.movies.splitlines()[1:]
        print(f"loaded {len(self.rows)} movies")
        print("a warning on stderr", file=sys.stderr)
        self.next(self.score, foreach="rows")

    @step
    def score(self):
        self.title = self.input.split(",")[0]
        self.movies_seen = self.movies
        self.threshold_seen = self.cfg.model.threshold
        print(f"scoring {self.title}")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.titles = sorted(inp.title for inp in inputs)
        self.mode = inputs[0].mode
        self.same_file_everywhere = all(inp.movies_seen == self.movies for inp in inputs)
        self.same_config_everywhere = all(
            inp.threshold_seen == self.cfg["model"]["threshold"] for inp in inputs
        )
        self.next(self.end)

    @step
    def end(self):
        self.summary = f"{self.label}:{self.batch_size}:{','.join(self.genres)}:{self.mode}"
        print("done", self.summary)


if __name__ == "__main__":
    RunningFlow()
