"""Reads a RunningFlow run with Metaflow's client API; the test swaps the import line."""

import sys

from metaflow import Run, namespace

namespace(None)
run = Run(sys.argv[1])
with open("movies.csv") as file:
    movies = file.read()
assert run.data.movies == movies, run.data.movies
assert run["start"].task.data.movies == movies
assert all(task.data.movies_seen == movies for task in run["score"])
assert run.data.cfg["model"]["threshold"] == 0.5, run.data.cfg
assert run.data.settings["run"]["mode"] == "fast"
assert run.data.batch_size == 16
assert run.data.genres == ["sci-fi", "drama"]
print("client ok", run.pathspec, run.data.summary)
