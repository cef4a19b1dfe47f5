"""Entry point: `python -m benchmarks.run [--only NAME] [--quick] [--keep]`.

Runs the chosen benchmarks one after the other, writes each one's JSON as soon as it ends,
then rebuilds `results/summary.md` from the results of the current commit and prints the
same tables. Exits 1 when a benchmark could not run to its end, when one of its cases failed
(a command's non-zero exit, a wrong reply) or when a goal could not be measured: such a goal
is a FAIL, and so is the run. A goal measured and missed is a finding: FAIL in the tables,
but the exit status stays 0.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Callable
from types import ModuleType

from rich.console import Console

from benchmarks import (
    bench_artifacts,
    bench_dedup,
    bench_entity_serving,
    bench_experiments,
    bench_fanout,
    bench_features,
    bench_features_scale,
    bench_online,
    bench_ray,
    bench_serving,
    bench_startup,
)
from benchmarks.goals import Verdict
from benchmarks.harness import Options
from benchmarks.report import (
    BenchmarkResult,
    load_results,
    print_tables,
    write_result,
    write_summary,
)

BENCHMARKS: dict[str, ModuleType] = {
    module.NAME: module
    for module in (
        bench_fanout,
        bench_artifacts,
        bench_dedup,
        bench_startup,
        bench_serving,
        bench_ray,
        bench_experiments,
        bench_features,
        bench_features_scale,
        bench_online,
        bench_entity_serving,
    )
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(BENCHMARKS),
        metavar="NAME",
        help=f"Run only this benchmark (repeatable): {', '.join(BENCHMARKS)}.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="One run per case instead of three, five start-up runs instead of ten, and no "
        "Metaflow run at N=1000.",
    )
    parser.add_argument(
        "--keep", action="store_true", help="Keep the temporary directories, to look inside."
    )
    return parser.parse_args(argv)


def run_one(name: str, options: Options, console: Console) -> BenchmarkResult:
    module = BENCHMARKS[name]
    console.rule(f"[bold]{name}[/]: {module.TITLE}")
    runner: Callable[[Options], BenchmarkResult] = module.run
    load_before = os.getloadavg()[0]
    try:
        result = runner(options)
    except Exception:
        # One broken benchmark must not cost the figures of the others.
        console.print_exception()
        result = BenchmarkResult(name, module.TITLE, error=traceback.format_exc())
    result.load_average = {"before": load_before, "after": os.getloadavg()[0]}
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    options = Options(quick=args.quick, keep=args.keep)
    console = Console()
    errors = []
    for name in args.only or list(BENCHMARKS):
        started = time.monotonic()
        result = run_one(name, options, console)
        path = write_result(result, options.quick, time.monotonic() - started)
        console.print(f"  wrote {path}")
        if not result.complete or any(g.verdict is Verdict.NOT_MEASURED for g in result.goals):
            errors.append(name)
    results = load_results()
    summary = write_summary(results)
    print_tables(results.current, console)
    console.print(f"summary (commit {results.commit}): {summary}")
    if errors:
        console.print(f"[bold red]failed or not measured: {', '.join(errors)}[/]")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
