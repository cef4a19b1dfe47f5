"""Scale-out cost: the 1000-way foreach on a 2-CPU Ray cluster versus the local executor.

Three ways to run the same flow, each at most 2 tasks at once: the local executor (forked
workers), the Ray executor against a 2-CPU cluster that is already running (`ray start
--head`, the way a team uses a cluster), and the Ray executor starting its own 2-CPU local
instance for the run (what `--executor ray` does on a laptop with no cluster).
"""

from __future__ import annotations

from tests.ray_cluster import ray_head

from benchmarks.goals import Statistic
from benchmarks.harness import (
    BENCH_DIR,
    Case,
    Measurement,
    Options,
    Sandbox,
    failed_runs,
    interleave,
    leftovers,
    python,
    seconds,
)
from benchmarks.report import BenchmarkResult, Row

NAME = "ray"
TITLE = "Scale-out: foreach of 1000 on a 2-CPU Ray cluster vs the local executor"
FLOW = BENCH_DIR / "fanout_flow.py"
WIDTH = 1000


def flow_case(
    label: str, options: Options, *executor: str, env: dict[str, str] | None = None
) -> Case:
    env_extra = env or {}

    def once() -> Measurement:
        with Sandbox.create(f"{NAME}-{label.split()[0].lower()}", options.keep) as box:
            flow = box.copy_in(FLOW)
            argv = [python(), flow.name, "run", "--max-workers", "2", "--quiet"]
            argv += ["--width", str(WIDTH), *executor]
            env = box.shipyard_env()
            # Ray's socket paths must stay short: keep its session files under /tmp.
            env["RAY_TMPDIR"] = "/tmp"
            env.update(env_extra)
            return box.run(label, argv, env, timeout=600)

    return once


def run(options: Options) -> BenchmarkResult:
    result = BenchmarkResult(NAME, TITLE)
    ray = ("--executor", "ray", "--ray-address")
    with ray_head(num_cpus=2) as cluster:
        cases = {
            "local": flow_case("local executor", options),
            "cluster": flow_case(
                "Ray, running cluster", options, *ray, cluster.address, env=cluster.env
            ),
            "instance": flow_case("Ray, own local instance", options, *ray, "local"),
        }
        runs = interleave(cases, times=options.repeats(3))
    local, cluster, instance = (
        seconds(runs[case]).value(Statistic.MEDIAN) for case in ("local", "cluster", "instance")
    )
    result.rows += [
        Row(f"run, N={WIDTH}, on a running 2-CPU Ray cluster", "s", cluster, local, "local"),
        Row(f"run, N={WIDTH}, Ray instance started by the run", "s", instance, local, "local"),
    ]
    every_run = [m for case in runs.values() for m in case]
    result.runs = [m.to_json() for m in every_run]
    result.failed += failed_runs(every_run)
    result.notes += leftovers(every_run)
    result.notes.append(
        "Commands: `python fanout_flow.py run --max-workers 2 --quiet --width 1000` with "
        "nothing more (local), with `--executor ray --ray-address HOST:PORT` against "
        "`ray start --head --num-cpus 2` (running cluster), and with `--executor ray "
        "--ray-address local` (own instance, its start-up included). Ratio = local ÷ Ray."
    )
    return result
