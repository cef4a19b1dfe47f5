"""Large artifacts: a 1 GiB float64 array stored by one step and read back by the next.

Measured for the whole `python flow.py run` (so array generation and process start-up are in
it, for all three alike): wall-clock, and peak memory both ways `measure.py` knows. The
baseline is the same array through plain `numpy.save` + `numpy.load` on the same disk.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from benchmarks.goals import Statistic, judge, ratio
from benchmarks.harness import (
    BENCH_DIR,
    PEERS_DIR,
    Case,
    Measurement,
    Options,
    Sandbox,
    check_same_work,
    failed_runs,
    interleave,
    leftovers,
    python,
    seconds,
)
from benchmarks.report import BenchmarkResult, Row, format_ratio, format_value

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
# Run after each flow, unmeasured: the client API of either tool reads the result back.
_READ_BACK = 'from {} import Flow; print("sum", Flow("ArtifactFlow").latest_run.data.sum)'


def _case(tool: str, options: Options, sums: dict[str, list[str]]) -> Case:
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
            measured = box.run(tool, argv, env, TIMEOUT, memory_interval=MEMORY_INTERVAL)
            if measured.ok:
                sums.setdefault(tool, []).append(_sum_of(box, tool, env, measured))
            return measured

    return once


def run(options: Options) -> BenchmarkResult:
    check_same_work(FLOW, PEER_FLOW)
    result = BenchmarkResult(NAME, TITLE)
    tools = ("numpy", "Shipyard", "Metaflow")
    sums: dict[str, list[str]] = {}
    cases = {t: _case(t, options, sums) for t in tools}
    # Writing 1 GiB into the page cache takes from 0.3 s to 2.6 s from one run to the next
    # on this virtual machine, so the fast cases run five times. Metaflow takes about a
    # minute a run: one run of it is enough.
    runs = interleave(cases, options.repeats(5), slow_after=30)
    times = {t: seconds(runs[t]) for t in tools}
    median, best = Statistic.MEDIAN, Statistic.BEST
    rss = {t: _peak(runs[t], "max_rss_largest_process") for t in tools}
    pss = {t: _peak(runs[t], "peak_tree_pss") for t in tools}
    sy = "Shipyard"
    result.rows += [
        Row("run (wall-clock)", "s", times[sy].value(median), times["Metaflow"].value(median)),
        Row(
            "run (wall-clock)",
            "s",
            times[sy].value(median),
            times["numpy"].value(median),
            "numpy save+load",
        ),
        Row(
            "run (wall-clock), fastest of the runs",
            "s",
            times[sy].value(best),
            times["numpy"].value(best),
            "numpy save+load",
            note="the goal uses medians",
        ),
        Row("peak RSS of the largest process", "GiB", rss[sy], rss["Metaflow"]),
        Row("peak RSS of the largest process", "GiB", rss[sy], rss["numpy"], "numpy"),
        Row("peak PSS of the process tree (sampled)", "GiB", pss[sy], pss["Metaflow"]),
    ]
    peak = max((v for v in (rss[sy], pss[sy]) if v is not None), default=None)
    result.goals += [
        judge(
            f"≥ {SPEEDUP_GOAL:.0f}x faster than Metaflow",
            lambda s: ratio(times["Metaflow"].value(s), times[sy].value(s)),
            lambda speedup: speedup >= SPEEDUP_GOAL,
            format_ratio,
            runs=len(times[sy]),
        ),
        judge(
            f"within {BASELINE_FACTOR_GOAL:.0f}x of numpy save+load",
            lambda s: ratio(times[sy].value(s), times["numpy"].value(s)),
            lambda factor: factor <= BASELINE_FACTOR_GOAL,
            lambda factor: f"{format_ratio(factor)} numpy's time",
            runs=len(times[sy]),
        ),
        judge(
            f"peak memory < {MEMORY_GOAL_GIB} GiB",
            # The peak over all runs: memory does not vary by chance as time does.
            lambda _: peak if times[sy].complete else None,
            lambda gib: gib < MEMORY_GOAL_GIB,
            lambda gib: (
                f"{format_value(gib, 'GiB')} (the larger of largest-process RSS and tree PSS)"
            ),
            runs=1,
            label="the one run" if len(times[sy]) == 1 else f"largest of {len(times[sy])} runs",
        ),
    ]
    every_run = [m for tool in tools for m in runs[tool]]
    result.runs = [m.to_json() for m in every_run]
    result.failed += failed_runs(every_run) + _check_sums(sums)
    result.notes += leftovers(every_run)
    result.notes.append(
        "Memory: 'largest process' is ru_maxrss from RUSAGE_CHILDREN of a fresh wrapper that "
        "is the subreaper of the run's whole process tree (exact, per process); 'process tree "
        f"PSS' is the sum of PSS over the tree, sampled every {MEMORY_INTERVAL} s with psutil "
        "(shared pages split between the processes sharing them). Memory figures are the "
        "maximum over the runs; times are medians. The array is random (seed 0), so that "
        "Metaflow's gzip gains nothing it would not gain on real data."
    )
    return result


def _peak(runs: Sequence[Measurement], figure: str) -> float | None:
    values = [getattr(m, figure) for m in runs if m.ok and getattr(m, figure) is not None]
    return max(values) / 2**30 if values else None


def _sum_of(box: Sandbox, tool: str, env: dict[str, str], measured: Measurement) -> str:
    """The sum the run computed: printed by the baseline, read back from a flow's store."""
    output = measured.output_tail
    if tool in ("Shipyard", "Metaflow"):
        code = _READ_BACK.format(tool.lower())
        output = box.run(
            f"{tool} (reads the sum back)", [python(), "-c", code], env, 120
        ).output_tail
    found = _SUM.findall(output)
    return found[-1] if found else "missing"


def _check_sums(sums: dict[str, list[str]]) -> list[str]:
    """All three must have computed the same sum of the same array."""
    if len({value for values in sums.values() for value in values}) != 1:
        return [f"the runs did not all compute the same sum: {sums}"]
    return []
