"""Start-up: the commands people type all day, each the median of ten wall-clock runs.

Pairs, closest equivalents first:

- `python fanout_flow.py show` vs Metaflow's own `python metaflow_fanout.py show`;
- `shipyard runs` vs `python metaflow_list_runs.py`: Metaflow has no command listing runs, so
  its client API lists the same columns (see that file);
- `python -c "import shipyard"` vs `python -c "import metaflow"`, for context only.

Each tool works in a directory of its own holding one finished run of the fan-out flow
(width 2), so the listings have something to list. One untimed warm-up run per command
first, so the first timed run does not pay for a cold disk cache.
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.goals import Figure, Statistic, judge
from benchmarks.harness import (
    BENCH_DIR,
    PEERS_DIR,
    Measurement,
    Options,
    Sandbox,
    check_same_work,
    failed_runs,
    leftovers,
    python,
)
from benchmarks.report import BenchmarkResult, Row, format_value

NAME = "startup"
TITLE = "Start-up of everyday commands (median of 10)"
FLOW = BENCH_DIR / "fanout_flow.py"
PEER_FLOW = PEERS_DIR / "metaflow_fanout.py"
PEER_LIST = PEERS_DIR / "metaflow_list_runs.py"
TIMES = 10
TIMEOUT = 120.0
GOAL_SECONDS = 0.3


@dataclass(frozen=True)
class Pair:
    measure: str
    shipyard: list[str]
    metaflow: list[str]
    goal: bool
    # Text a run's output must hold to count: a listing that lists nothing is not fast.
    expect: str = ""


PAIRS = (
    Pair(
        "`flow.py show`",
        [python(), FLOW.name, "show"],
        [python(), PEER_FLOW.name, "show"],
        True,
        expect="join",
    ),
    Pair(
        "`shipyard runs` vs Metaflow client listing",
        ["shipyard", "runs"],
        [python(), PEER_LIST.name],
        True,
        expect="FanoutFlow",
    ),
    Pair(
        "`import shipyard` vs `import metaflow`",
        [python(), "-c", "import shipyard"],
        [python(), "-c", "import metaflow"],
        False,
    ),
)


def run(options: Options) -> BenchmarkResult:
    check_same_work(FLOW, PEER_FLOW)
    result = BenchmarkResult(NAME, TITLE)
    times = 5 if options.quick else TIMES
    with (
        Sandbox.create(f"{NAME}-shipyard", options.keep) as sy_box,
        Sandbox.create(f"{NAME}-metaflow", options.keep) as mf_box,
    ):
        sy_box.copy_in(FLOW)
        mf_box.copy_in(PEER_FLOW)
        mf_box.copy_in(PEER_LIST)
        sy_env, mf_env = sy_box.shipyard_env(), mf_box.metaflow_env()
        setup = [
            sy_box.run(
                "Shipyard: one run to list",
                [python(), FLOW.name, "run", "--quiet", "--max-workers", "2", "--width", "2"],
                sy_env,
                TIMEOUT,
            ),
            mf_box.run(
                "Metaflow: one run to list",
                [python(), PEER_FLOW.name, "--quiet", "--no-pylint", "run", "--width", "2"],
                mf_env,
                TIMEOUT,
            ),
        ]
        runs: dict[tuple[str, str], list[Measurement]] = {}
        for pair in PAIRS:
            sides = (
                ("Shipyard", sy_box, sy_env, pair.shipyard),
                ("Metaflow", mf_box, mf_env, pair.metaflow),
            )
            for tool, box, env, argv in sides:
                box.run(f"{_label(tool, argv)} (warm-up)", argv, env, TIMEOUT)
            # Round by round, so that drift hits both tools alike.
            for _ in range(times):
                for tool, box, env, argv in sides:
                    measured = box.run(_label(tool, argv), argv, env, TIMEOUT)
                    runs.setdefault((pair.measure, tool), []).append(measured)

    # Without the finished run they list, the timed commands measure an empty store.
    set_up = all(m.ok for m in setup)
    result.failed += failed_runs(setup)
    median = Statistic.MEDIAN
    for pair in PAIRS:
        figures = {}
        for tool in ("Shipyard", "Metaflow"):
            measured = runs[pair.measure, tool]
            figures[tool] = Figure.of([_seconds(m, pair, set_up) for m in measured])
            result.failed += [
                f"{m.label}: the output does not mention {pair.expect!r}:\n{m.output_tail}"
                for m in measured
                if m.ok and pair.expect not in m.output_tail
            ]
        sy = figures["Shipyard"]
        result.rows.append(
            Row(
                pair.measure,
                "s",
                sy.value(median),
                figures["Metaflow"].value(median),
                note=f"median of {times}",
            )
        )
        if pair.goal:
            result.goals.append(
                judge(
                    f"Shipyard {pair.measure.split(' vs ')[0]} < {GOAL_SECONDS * 1000:.0f} ms",
                    sy.value,
                    lambda s: s < GOAL_SECONDS,
                    lambda s: format_value(s, "s"),
                    runs=len(sy),
                    why_missing="; ".join(result.failed),
                )
            )
    every_run = setup + [m for ms in runs.values() for m in ms]
    result.runs = [m.to_json() for m in every_run]
    result.failed += failed_runs([m for ms in runs.values() for m in ms])
    result.notes += leftovers(every_run)
    result.notes.append(
        "Metaflow has no CLI that lists runs; `metaflow_list_runs.py` lists the current user's "
        "runs of every flow with status, start, finish and tags through its client API, the "
        "columns `shipyard runs` prints."
    )
    return result


def _seconds(measured: Measurement, pair: Pair, set_up: bool) -> float | None:
    """A run's time, if it did what it is timed for: set up, succeeded, printed the run."""
    if not (set_up and measured.ok and pair.expect in measured.output_tail):
        return None
    return measured.seconds


def _label(tool: str, argv: list[str]) -> str:
    shown = argv[1:] if argv[0] == python() else argv
    return f"{tool}: {' '.join(shown)}"
