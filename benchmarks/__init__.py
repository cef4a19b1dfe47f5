"""Benchmarks: Shipyard and its peer (Metaflow) side by side on the same work, in one run.

`make bench` (or `python -m benchmarks.run [--only NAME] [--quick]` in `.venv-bench`) runs
them and writes the figures to `benchmarks/results/`. Tests never run these.
"""
