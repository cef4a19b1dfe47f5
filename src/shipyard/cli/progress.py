"""Following a run as it happens: a live rich table on a terminal, plain lines otherwise."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from shipyard.flow.graph import FlowGraph
from shipyard.runtime.log_echo import LiveLogs, LogEcho, Stream
from shipyard.runtime.scheduler import ProgressListener
from shipyard.runtime.spec import Outcome, TaskResult, TaskSpec

if TYPE_CHECKING:
    from shipyard.runtime.launch import FlowRun


@dataclass
class _StepCounts:
    queued: int = 0
    started: int = 0
    done: int = 0
    failed: int = 0
    reused: int = 0
    durations: list[float] = field(default_factory=list)

    @property
    def running(self) -> int:
        return self.started - self.done - self.failed


class RunProgress:
    """Collects task events per step; renders itself for rich or as plain log lines."""

    def __init__(self, graph: FlowGraph, pathspec: str, console: Console, plain: bool) -> None:
        self.pathspec = pathspec
        self.console = console
        self.plain = plain
        self.steps = {node.name: _StepCounts() for node in graph.topological()}
        self.started_at = time.monotonic()
        self._task_started: dict[str, float] = {}
        self._live: Live | None = None

    # -- ProgressListener ------------------------------------------------------------------
    def task_queued(self, step_name: str) -> None:
        self.steps[step_name].queued += 1

    def task_reused(self, step_name: str, task_id: str, origin: str) -> None:
        counts = self.steps[step_name]
        counts.started += 1
        counts.done += 1
        counts.reused += 1
        if self.plain:
            self._line(f"{step_name}/{task_id} reused from {origin}")

    def task_started(self, spec: TaskSpec) -> None:
        self.steps[spec.step_name].started += 1
        self._task_started[spec.key] = time.monotonic()
        if self.plain:
            self._line(f"{spec.step_name}/{spec.task_id} started")

    def task_finished(self, spec: TaskSpec, result: TaskResult) -> None:
        counts = self.steps[spec.step_name]
        took = time.monotonic() - self._task_started.pop(spec.key, time.monotonic())
        counts.durations.append(took)
        if result.outcome is Outcome.SUCCEEDED:
            counts.done += 1
            if self.plain:
                self._line(f"{spec.step_name}/{spec.task_id} finished in {took:.2f}s")
        else:
            counts.failed += 1
            if self.plain:
                self._line(f"{spec.step_name}/{spec.task_id} FAILED after {took:.2f}s")

    # -- display ---------------------------------------------------------------------------
    def __enter__(self) -> RunProgress:
        if not self.plain:
            # Live redraws itself 8 times a second from its own thread; redrawing on every
            # task event as well cost the runner more than the rest of a small task.
            self._live = Live(self, console=self.console, refresh_per_second=8, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.update(self, refresh=True)
            self._live.__exit__(*exc)
            self._live = None

    def _line(self, message: str) -> None:
        elapsed = time.monotonic() - self.started_at
        self.console.print(
            f"[{elapsed:7.2f}s] {self.pathspec}/{message}", highlight=False, soft_wrap=True
        )

    def totals(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for counts in self.steps.values():
            total["done"] += counts.done
            total["failed"] += counts.failed
            total["running"] += counts.running
        return total

    def __rich__(self) -> Group:
        elapsed = time.monotonic() - self.started_at
        totals = self.totals()
        header = Text.assemble(
            (self.pathspec, "bold cyan"),
            f"  {elapsed:6.1f}s  ",
            (f"{totals['done']} done", "green"),
            "  ",
            (f"{totals['running']} running", "yellow"),
            "  ",
            (f"{totals['failed']} failed", "red" if totals["failed"] else "dim"),
        )
        table = Table(box=None, padding=(0, 2), show_edge=False)
        table.add_column("step", style="bold")
        table.add_column("tasks", justify="right")
        table.add_column("done", justify="right", style="green")
        table.add_column("running", justify="right", style="yellow")
        table.add_column("failed", justify="right", style="red")
        table.add_column("reused", justify="right", style="cyan")
        table.add_column("", width=24)
        for name, counts in self.steps.items():
            bar = ProgressBar(total=max(counts.queued, 1), completed=counts.done, width=24)
            table.add_row(
                name,
                str(counts.queued) if counts.queued else "",
                str(counts.done),
                str(counts.running) if counts.running else "",
                str(counts.failed) if counts.failed else "",
                str(counts.reused) if counts.reused else "",
                bar if counts.started else Text("waiting", style="dim"),
            )
        return Group(header, table)


class Listeners:
    """Several progress listeners as one, told in the order given."""

    def __init__(self, *listeners: ProgressListener) -> None:
        self.listeners = listeners

    def task_queued(self, step_name: str) -> None:
        for listener in self.listeners:
            listener.task_queued(step_name)

    def task_reused(self, step_name: str, task_id: str, origin: str) -> None:
        for listener in self.listeners:
            listener.task_reused(step_name, task_id, origin)

    def task_started(self, spec: TaskSpec) -> None:
        for listener in self.listeners:
            listener.task_started(spec)

    def task_finished(self, spec: TaskSpec, result: TaskResult) -> None:
        for listener in self.listeners:
            listener.task_finished(spec, result)


@contextlib.contextmanager
def task_output(flow_run: FlowRun, console: Console) -> Iterator[tuple[LogEcho, ...]]:
    """What tasks print, shown on `console` as it is written, `[Flow/12/train/3] line`
    (none where tasks already write to this terminal: the inline executor)."""
    if flow_run.executor_kind.shares_terminal:
        yield ()
        return

    def show(pathspec: str, stream: Stream, line: str) -> None:
        prefix = Text(f"[{pathspec}] ", style="red" if stream == "stderr" else "cyan")
        console.print(prefix + Text(line), highlight=False, soft_wrap=True)

    live = flow_run.executor if isinstance(flow_run.executor, LiveLogs) else None
    with LogEcho(flow_run.artifacts.blobs, live, show) as echo:
        yield (echo,)
