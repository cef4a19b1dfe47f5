"""Deduplication: a 100 MiB array handed on unchanged through ten steps is stored once.

Two variants of the same flow: `pass` (later steps only read the array) and `copy` (each
middle step assigns back an equal copy, so only content addressing can spot it). The figure
is the disk the datastore's content store takes after the run: Shipyard's
`.shipyard/blobs` (artifacts, code and logs) and Metaflow's `.metaflow/<Flow>/data`.
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.goals import Figure, judge
from benchmarks.harness import (
    BENCH_DIR,
    PEERS_DIR,
    Measurement,
    Options,
    Sandbox,
    check_same_work,
    disk_usage,
    leftovers,
    python,
    settle_disk,
)
from benchmarks.report import BenchmarkResult, Row, format_value

NAME = "dedup"
TITLE = "Deduplication: 100 MiB array through ten steps"
FLOW = BENCH_DIR / "dedup_flow.py"
PEER_FLOW = PEERS_DIR / "metaflow_dedup.py"
MIB = 100
TIMEOUT = 600.0
GOAL_FACTOR = 1.2
# Random data does not compress: a content store holding less than this share of the array
# did not store it, and must not read as "stored once".
LEAST_FACTOR = 0.5
MODES = ("pass", "copy")


@dataclass(frozen=True)
class Stored:
    """One run and what its datastore held afterwards, in MiB; None where a folder that
    the run should have made does not exist."""

    run: Measurement
    content_mib: float | None
    content_apparent_mib: float | None
    whole_store_mib: float | None

    def missing(self) -> list[str]:
        """Why this run's sizes cannot be used ([] when they can)."""
        if not self.run.ok:
            return [self.run.failure()]
        if self.content_mib is None or self.whole_store_mib is None:
            return [f"{self.run.label}: the run made no content store to measure"]
        return []


def _measure(tool: str, mode: str, options: Options) -> Stored:
    with Sandbox.create(f"{NAME}-{tool.lower()}", options.keep) as box:
        if tool == "Shipyard":
            flow = box.copy_in(FLOW)
            argv = [python(), flow.name, "run", "--max-workers", "2", "--quiet"]
            env = box.shipyard_env()
            store = box.root / ".shipyard"
            content = store / "blobs"
        else:
            flow = box.copy_in(PEER_FLOW)
            argv = [python(), flow.name, "--quiet", "--no-pylint", "run", "--max-workers", "2"]
            env = box.metaflow_env()
            store = box.root / ".metaflow"
            content = store / "DedupFlow" / "data"
        argv += ["--mib", str(MIB), "--mode", mode]
        settle_disk()
        run = box.run(f"{tool} --mode {mode}", argv, env, TIMEOUT)
        content_usage, store_usage = disk_usage(content), disk_usage(store)
        return Stored(
            run,
            None if content_usage is None else content_usage[0] / 2**20,
            None if content_usage is None else content_usage[1] / 2**20,
            None if store_usage is None else store_usage[0] / 2**20,
        )


def run(options: Options) -> BenchmarkResult:
    check_same_work(FLOW, PEER_FLOW)
    result = BenchmarkResult(NAME, TITLE)
    stored = {
        (tool, mode): _measure(tool, mode, options)
        for mode in MODES
        for tool in ("Shipyard", "Metaflow")
    }

    def figure(tool: str, mode: str, name: str) -> float | None:
        s = stored[tool, mode]
        return None if s.missing() else getattr(s, name)

    for mode in MODES:
        what = "only read" if mode == "pass" else "assigned back as an equal copy"
        result.rows += [
            Row(
                f"content store on disk, array {what} ({mode})",
                "MiB",
                figure("Shipyard", mode, "content_mib"),
                figure("Metaflow", mode, "content_mib"),
                note=f"array: {MIB} MiB",
            ),
            Row(
                f"whole store on disk incl. metadata ({mode})",
                "MiB",
                figure("Shipyard", mode, "whole_store_mib"),
                figure("Metaflow", mode, "whole_store_mib"),
            ),
        ]
    result.rows.append(
        Row(
            "run (wall-clock, pass)",
            "s",
            _seconds(stored, "Shipyard"),
            _seconds(stored, "Metaflow"),
        )
    )
    for mode in MODES:
        size = figure("Shipyard", mode, "content_mib")
        factor = Figure.of([None if size is None else size / MIB])
        goal = f"stored once: Shipyard blobs < {GOAL_FACTOR}x the array ({mode})"
        if mode == "copy":
            goal += " — extra check, not a project goal"
        result.goals.append(
            judge(
                goal,
                factor.value,
                lambda times: LEAST_FACTOR <= times < GOAL_FACTOR,
                lambda times: f"{times:.2f}x ({format_value(times * MIB, 'MiB')})",
                runs=1,
                why_missing="; ".join(stored["Shipyard", mode].missing()),
            )
        )
    every_run = [s.run for s in stored.values()]
    result.runs = [
        {
            **s.run.to_json(),
            "content_mib": s.content_mib,
            "content_apparent_mib": s.content_apparent_mib,
            "whole_store_mib": s.whole_store_mib,
        }
        for s in stored.values()
    ]
    result.failed += [why for s in stored.values() for why in s.missing()]
    result.notes += leftovers(every_run)
    result.notes.append(
        "Sizes are disk blocks allocated (du); apparent sizes are in the JSON runs. "
        "The array is random (seed 0), so Metaflow's gzip does not shrink it."
    )
    return result


def _seconds(stored: dict[tuple[str, str], Stored], tool: str) -> float | None:
    run = stored[tool, "pass"].run
    return run.seconds if run.ok else None
