"""Large artifacts: a 1 GiB float64 array stored by one step and read back by the next.

Measured for the whole `python flow.py run` (so array generation and process start-up are in
it, for all three alike): wall-clock, and peak memory both ways `measure.py` knows. The
baseline is the same array through plain `numpy.save` + `numpy.load` on the same disk.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from benchmarks.harness import (
    BENCH_DIR,
    PEERS_DIR,
    Case,
    Measurement,
    Options,
    Sandbox,
    check_same_work,
    failures,
    interleave,
    median_seconds,
    python,
)
from benchmarks.report import BenchmarkResult, Goal, Row, format_ratio, format_value

NAME = "artifacts"
TITLE = "1 GiB NumPy artifact: store, then load and sum in the next step"
FLOW = BENCH_DIR / "artifact_flow.py"
PEER_FLOW = PEERS_DIR / "metaflow_artifact.py"
BASELINE = BENCH_DIR / "numpy_baseline.py"
MIB = 1024
TIMEOUT = 900.0
# Sampling the process tree's memory this often costs well under 1% of a core.
MEMORY_INTERVAL = 0.1
SPEEDUP_GOAL = 5.0
BASELINE_FACTOR_GOAL = 2.0
MEMORY_GOAL_GIB = 2.5
_SUM = re.compile(r"\bsum (\S+)")


def _case(tool: str, options: Options) -> Case:
    def once() -> Measurement:
        with Sandbox.create(f"{NAME}-{tool.lower()}", options.keep) as box:
            if tool == "Shipyard":
                flow = box.copy_in(FLOW)
                argv = [python(), flow.name, "run", "--max-workers", "2", "--quiet"]
                env = box.shipyard_env()
            elif tool == "Metaflow":
                flow = box.copy_in(PEER_FLOW)
                argv = [python(), flow.name, "--quiet", "--no-pylint", "run"]
                argv += ["--max-workers", "2"]
                env = box.metaflow_env()
            else:
                script = box.copy_in(BASELINE)
                argv = [python(), script.name]
                env = box.base_env()
            argv += ["--mib", str(MIB)]
            return box.run(tool, argv, env, TIMEOUT, memory_interval=MEMORY_INTERVAL)

    return once


def run(options: Options) -> BenchmarkResult:
    check_same_work(FLOW, PEER_FLOW)
    result = BenchmarkResult(NAME, TITLE)
    tools = ("numpy", "Shipyard", "Metaflow")
    # Metaflow takes over a minute a run here: one run of it is enough.
    runs = interleave({t: _case(t, options) for t in tools}, options.repeats(3), slow_after=60)
    seconds = {t: median_seconds(runs[t]) for t in tools}
    rss = {t: _peak(runs[t], "max_rss_largest_process") for t in tools}
    pss = {t: _peak(runs[t], "peak_tree_pss") for t in tools}
    sy = "Shipyard"
    result.rows += [
        Row("run (wall-clock)", "s", seconds[sy], seconds["Metaflow"]),
        Row("run (wall-clock)", "s", seconds[sy], seconds["numpy"], "numpy save+load"),
        Row("peak RSS of the largest process", "GiB", rss[sy], rss["Metaflow"]),
        Row("peak RSS of the largest process", "GiB", rss[sy], rss["numpy"], "numpy"),
        Row("peak PSS of the process tree (sampled)", "GiB", pss[sy], pss["Metaflow"]),
    ]
    speedup = _ratio(seconds["Metaflow"], seconds[sy])
    versus_numpy = _ratio(seconds[sy], seconds["numpy"])
    peak = max((v for v in (rss[sy], pss[sy]) if v is not None), default=None)
    result.goals += [
        Goal(
            f"≥ {SPEEDUP_GOAL:.0f}x faster than Metaflow",
            f"{format_ratio(speedup)} ({format_value(seconds[sy], 's')} vs "
            f"{format_value(seconds['Metaflow'], 's')})",
            None if speedup is None else speedup >= SPEEDUP_GOAL,
        ),
        Goal(
            f"within {BASELINE_FACTOR_GOAL:.0f}x of numpy save+load",
            f"{format_ratio(versus_numpy)} numpy's time ({format_value(seconds['numpy'], 's')})",
            None if versus_numpy is None else versus_numpy <= BASELINE_FACTOR_GOAL,
        ),
        Goal(
            f"peak memory < {MEMORY_GOAL_GIB} GiB",
            f"{format_value(peak, 'GiB')} (the larger of largest-process RSS and tree PSS)",
            None if peak is None else peak < MEMORY_GOAL_GIB,
        ),
    ]
    every_run = [m for tool in tools for m in runs[tool]]
    result.runs = [m.to_json() for m in every_run]
    result.notes += failures(every_run)
    result.notes += _check_sums(every_run)
    result.notes.append(
        "Memory: 'largest process' is ru_maxrss from RUSAGE_CHILDREN of a fresh wrapper that "
        "is the subreaper of the run's whole process tree (exact, per process); 'process tree "
        f"PSS' is the sum of PSS over the tree, sampled every {MEMORY_INTERVAL} s with psutil "
        "(shared pages split between the processes sharing them). Memory figures are the "
        "maximum over the runs, times the median. The array is random (seed 0), so that "
        "Metaflow's gzip gains nothing it would not gain on real data."
    )
    return result


def _peak(runs: Sequence[Measurement], figure: str) -> float | None:
    values = [getattr(m, figure) for m in runs if m.ok and getattr(m, figure) is not None]
    return max(values) / 2**30 if values else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _check_sums(runs: Sequence[Measurement]) -> list[str]:
    """All three must have read back the same array: they print the same sum."""
    sums = {}
    for m in runs:
        found = _SUM.findall(m.output_tail)
        if m.ok:
            sums[m.label] = found[-1] if found else "missing"
    if len(set(sums.values())) > 1 or "missing" in sums.values():
        return [f"the runs read back different sums: {sums}"]
    return []
