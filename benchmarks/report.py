"""Benchmark results: their JSON files, the Markdown summary, and the table printed at the end.

A result is written to `results/<name>.json` as soon as its benchmark ends. The summary and
the printed table are rebuilt from every JSON file present, so a `--only` run refreshes its
own rows and keeps the others.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SUMMARY = RESULTS_DIR / "summary.md"
_PACKAGES = ("shipyard", "metaflow", "numpy", "psutil", "rich", "fastapi", "uvicorn", "ray")


@dataclass
class Row:
    """One figure of Shipyard beside the same figure of what it is compared with.

    `ratio` is other ÷ Shipyard: for times and sizes, above 1 means Shipyard does better.
    """

    measure: str
    unit: str
    shipyard: float | None
    other: float | None = None
    other_name: str = "Metaflow"
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.shipyard is None or self.other is None or self.shipyard == 0:
            return None
        return self.other / self.shipyard


@dataclass
class Goal:
    """A target from the project's goals; `passed` is None when it could not be measured."""

    goal: str
    measured: str
    passed: bool | None


@dataclass
class BenchmarkResult:
    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    # The 1-minute load average when the benchmark began and ended: on a shared 2-core
    # machine, anything else running skews the figures, and this shows whether it did.
    load_average: dict[str, float] = field(default_factory=dict)

    def to_json(self, quick: bool, seconds: float) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "quick": quick,
            "benchmark_seconds": round(seconds, 1),
            "machine": machine_info(),
            "rows": [{**asdict(row), "ratio": row.ratio} for row in self.rows],
            "goals": [asdict(goal) for goal in self.goals],
            "notes": self.notes,
            "error": self.error,
            "load_average": self.load_average,
            "runs": self.runs,
        }


def write_result(result: BenchmarkResult, quick: bool, seconds: float) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{result.name}.json"
    path.write_text(json.dumps(result.to_json(quick, seconds), indent=2) + "\n")
    return path


def machine_info() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "memory_gib": round(_total_memory() / 2**30, 1),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": {name: _version(name) for name in _PACKAGES},
        "shipyard_commit": _git_commit(),
    }


def _total_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    """HEAD of the checkout measured, with `+dirty` when the work tree has changes."""
    repo = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=repo, capture_output=True, text=True, timeout=10, check=True
        )
        return done.stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--", "src")
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}+dirty" if dirty else head


# -- reading results back ----------------------------------------------------------------


def load_results() -> list[dict[str, Any]]:
    order = ["fanout", "artifacts", "dedup", "startup", "serving"]
    found = [json.loads(p.read_text()) for p in sorted(RESULTS_DIR.glob("*.json"))]
    return sorted(found, key=lambda r: order.index(r["name"]) if r["name"] in order else 99)


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "s" and value < 1:
        return f"{value * 1000:.0f} ms"
    if unit == "ms":
        return f"{value:.1f} ms" if value < 10 else f"{value:.0f} ms"
    digits = 2 if abs(value) < 10 else 1
    return f"{value:.{digits}f} {unit}"


def format_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "—"
    return f"{ratio:.2f}x" if ratio < 10 else f"{ratio:.1f}x"


def format_passed(passed: bool | None) -> str:
    return {True: "PASS", False: "FAIL", None: "not measured"}[passed]


def figure_lines(results: list[dict[str, Any]]) -> list[list[str]]:
    lines = []
    for result in results:
        for row in result["rows"]:
            other = format_value(row["other"], row["unit"])
            if row["other"] is not None or row["note"]:
                other = f"{other} ({row['other_name']})"
            lines.append(
                [
                    result["name"],
                    row["measure"],
                    format_value(row["shipyard"], row["unit"]),
                    other,
                    format_ratio(row["ratio"]),
                    row["note"],
                ]
            )
        if result.get("error"):
            lines.append([result["name"], "ERROR", "—", "—", "—", result["error"].splitlines()[0]])
    return lines


def goal_lines(results: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [result["name"], goal["goal"], goal["measured"], format_passed(goal["passed"])]
        for result in results
        for goal in result["goals"]
    ]


_FIGURE_HEADER = ["benchmark", "measure", "Shipyard", "compared with", "ratio", "note"]
_GOAL_HEADER = ["benchmark", "goal", "measured", "result"]


def write_summary(results: list[dict[str, Any]]) -> Path:
    """`results/summary.md`: every figure and goal of every result file present."""
    out = ["# Benchmark results", ""]
    out += [
        "Generated by `make bench` (`python -m benchmarks.run`) from the JSON files in this",
        "directory. ratio = the other figure ÷ Shipyard's: above 1, Shipyard is faster or",
        "smaller. Medians of the repeated runs; each JSON file lists every run.",
        "The machine has 2 cores: the load averages under Runs show whether anything else",
        "competed for them (the benchmarks themselves keep both busy, so about 2 is normal).",
        "",
        "## Figures",
        "",
    ]
    out += _markdown_table(_FIGURE_HEADER, figure_lines(results))
    out += ["", "## Goals", ""]
    out += _markdown_table(_GOAL_HEADER, goal_lines(results))
    out += ["", "## Runs", ""]
    for result in results:
        machine = result["machine"]
        packages = ", ".join(f"{k} {v}" for k, v in machine["packages"].items() if v)
        quick = " (--quick)" if result["quick"] else ""
        load = result.get("load_average") or {}
        load_text = "/".join(f"{load[k]:.2f}" for k in ("before", "after") if k in load)
        out.append(
            f"- **{result['name']}**{quick}: {result['date']}, {machine['cpu_count']} CPUs, "
            f"{machine['memory_gib']} GiB, Python {machine['python']}, {packages}, "
            f"Shipyard commit {machine['shipyard_commit']}; took {result['benchmark_seconds']} s"
            f"; load average before/after: {load_text or '?'}"
        )
    notes = [(r["name"], n) for r in results for n in r["notes"]]
    if notes:
        out += ["", "## Notes", ""]
        out += [f"- **{name}**: {_one_line(note)}" for name, note in notes]
    SUMMARY.write_text("\n".join(out) + "\n")
    return SUMMARY


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _markdown_table(header: list[str], lines: list[list[str]]) -> list[str]:
    def cells(values: list[str]) -> str:
        return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"

    return [cells(header), cells(["---"] * len(header)), *(cells(line) for line in lines)]


def print_tables(results: list[dict[str, Any]], console: Console | None = None) -> None:
    if console is None:
        console = Console()
    if not console.is_terminal:
        # Rich assumes 80 columns when writing to a file or pipe; the table needs more.
        console.width = 160
    figures = Table(title="Benchmark figures (ratio = other ÷ Shipyard)", show_lines=False)
    for name in _FIGURE_HEADER:
        figures.add_column(name, justify="right" if name in {"Shipyard", "ratio"} else "left")
    for line in figure_lines(results):
        figures.add_row(*(escape(cell) for cell in line))
    console.print(figures)
    goals = Table(title="Goals")
    for name in _GOAL_HEADER:
        goals.add_column(name)
    style = {"PASS": "green", "FAIL": "bold red"}
    for line in goal_lines(results):
        goals.add_row(
            *(escape(c) for c in line[:3]), f"[{style.get(line[3], 'yellow')}]{line[3]}[/]"
        )
    console.print(goals)
