"""Benchmark results: their JSON files, the Markdown summary, and the table printed at the end.

A result is written to `results/<name>.json` as soon as its benchmark ends, stamped with the
commit and date it was measured at. The summary and the printed table are rebuilt from the
results of the current commit only: figures measured on other code are listed as left out,
never mixed in.
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

from benchmarks.goals import Goal

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
class BenchmarkResult:
    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    # The benchmark could not run to its end (a traceback).
    error: str | None = None
    # Cases that ran but failed (a command's exit, a wrong reply): their figures are unused.
    failed: list[str] = field(default_factory=list)
    # The 1-minute load average when the benchmark began and ended: on a shared 2-core
    # machine, anything else running skews the figures, and this shows whether it did.
    load_average: dict[str, float] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Ran to its end with every case succeeding."""
        return self.error is None and not self.failed

    def to_json(self, quick: bool, seconds: float) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "commit": current_commit(),
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "quick": quick,
            "benchmark_seconds": round(seconds, 1),
            "machine": machine_info(),
            "rows": [{**asdict(row), "ratio": row.ratio} for row in self.rows],
            "goals": [goal.to_json() for goal in self.goals],
            "notes": self.notes,
            "error": self.error,
            "failed": self.failed,
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
    }


def _total_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def current_commit() -> str | None:
    """HEAD of the checkout measured, with `+dirty` when the code measured (the sources or
    the benchmarks, not their results) has uncommitted changes."""
    repo = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=repo, capture_output=True, text=True, timeout=10, check=True
        )
        return done.stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--", "src", "benchmarks", ":!benchmarks/results")
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}+dirty" if dirty else head


# -- reading results back ----------------------------------------------------------------


@dataclass(frozen=True)
class Results:
    """The results of one commit, and those of other commits left out of the summary."""

    commit: str | None
    current: list[dict[str, Any]]
    left_out: list[dict[str, Any]]


_ORDER = ["fanout", "artifacts", "dedup", "startup", "serving", "ray", "features", "features_scale"]


def select_results(found: list[dict[str, Any]], commit: str | None) -> Results:
    """Split `found` into the results measured at `commit` and all others, each in the
    benchmarks' order. A result without a commit (unknown code) is never current."""

    def order(result: dict[str, Any]) -> int:
        name = result.get("name")
        return _ORDER.index(name) if name in _ORDER else len(_ORDER)

    current = [r for r in found if commit is not None and r.get("commit") == commit]
    left_out = [r for r in found if r not in current]
    return Results(commit, sorted(current, key=order), sorted(left_out, key=order))


def load_results() -> Results:
    """The JSON files of `results/`, split by the commit of the checkout."""
    found = [json.loads(p.read_text()) for p in sorted(RESULTS_DIR.glob("*.json"))]
    return select_results(found, current_commit())


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


def figure_lines(results: list[dict[str, Any]]) -> list[list[str]]:
    lines = []
    for result in results:
        for row in result["rows"]:
            other = format_value(row["other"], row["unit"])
            if row["other"] is not None:
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
    """One line per goal, then a FAIL line for each benchmark that did not run to its end
    or had a failed case: an incomplete benchmark never reads as all-PASS."""
    lines = []
    for result in results:
        for goal in result["goals"]:
            measured = goal["measured"]
            if goal.get("otherwise"):
                measured += f" ({goal['otherwise']})"
            lines.append(
                [result["name"], goal["goal"], goal["statistic"], measured, goal["verdict"]]
            )
        if result.get("error"):
            error = result["error"].strip().splitlines() or ["(no message)"]
            lines.append([result["name"], "runs to its end", "—", error[-1], "FAIL"])
        if result.get("failed"):
            lines.append(
                [result["name"], "every case succeeds", "—", "; ".join(result["failed"]), "FAIL"]
            )
    return lines


def all_passed(results: list[dict[str, Any]]) -> bool:
    return all(line[-1] == "PASS" for line in goal_lines(results))


_FIGURE_HEADER = ["benchmark", "measure", "Shipyard", "compared with", "ratio", "note"]
_GOAL_HEADER = ["benchmark", "goal", "statistic", "measured", "result"]


def write_summary(results: Results) -> Path:
    """`results/summary.md`: every figure and goal of the current commit's results."""
    SUMMARY.write_text("\n".join(summary_lines(results)) + "\n")
    return SUMMARY


def summary_lines(results: Results) -> list[str]:
    current = results.current
    out = ["# Benchmark results", ""]
    out += [
        f"Measured at commit **{results.commit}**: only results of that commit are shown.",
        "Generated by `make bench` (`python -m benchmarks.run`) from the JSON files in this",
        "directory. ratio = the other figure ÷ Shipyard's: above 1, Shipyard is faster or",
        "smaller. Each goal names the statistic it is judged by; where the other statistic",
        "(median or best of the runs) would give the other verdict, the goal says so. A goal",
        "whose runs failed is a FAIL (not measured). Each JSON file lists every run.",
        "The machine has 2 cores: the load averages under Runs show whether anything else",
        "competed for them (the benchmarks themselves keep both busy, so about 2 is normal).",
        "",
    ]
    if results.left_out:
        out += ["Not measured at this commit (their JSON files are older and left out):", ""]
        out += [
            f"- {r.get('name')}: measured at commit {r.get('commit') or _legacy_commit(r)} "
            f"on {r.get('date', '?')}"
            for r in results.left_out
        ]
        out.append("")
    out += ["## Figures", ""]
    out += _markdown_table(_FIGURE_HEADER, figure_lines(current))
    out += ["", "## Goals", ""]
    out += _markdown_table(_GOAL_HEADER, goal_lines(current))
    out += ["", "## Runs", ""]
    for result in current:
        machine = result["machine"]
        packages = ", ".join(f"{k} {v}" for k, v in machine["packages"].items() if v)
        quick = " (--quick)" if result["quick"] else ""
        load = result.get("load_average") or {}
        load_text = "/".join(f"{load[k]:.2f}" for k in ("before", "after") if k in load)
        out.append(
            f"- **{result['name']}**{quick}: {result['date']}, commit {result['commit']}, "
            f"{machine['cpu_count']} CPUs, {machine['memory_gib']} GiB, Python "
            f"{machine['python']}, {packages}; took {result['benchmark_seconds']} s"
            f"; load average before/after: {load_text or '?'}"
        )
    notes = [(r["name"], n) for r in current for n in r["notes"]]
    if notes:
        out += ["", "## Notes", ""]
        out += [f"- **{name}**: {_one_line(note)}" for name, note in notes]
    return out


def _legacy_commit(result: dict[str, Any]) -> str:
    """Where results written before the commit moved to the top level kept it."""
    return str((result.get("machine") or {}).get("shipyard_commit") or "unknown")


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
    for line in goal_lines(results):
        style = "green" if line[-1] == "PASS" else "bold red"
        goals.add_row(*(escape(c) for c in line[:-1]), f"[{style}]{escape(line[-1])}[/]")
    console.print(goals)
