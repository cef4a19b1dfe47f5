"""Waiting for events, not for time: helpers for tests that use threads and processes.

A sleep that is long enough on an idle machine is too short on a loaded one: the test then
flakes, or worse, stops testing what it says (a race that no longer races) and still
passes. These helpers wait for the event itself and fail, naming what did not happen, when
it does not come within a generous deadline.
"""

from __future__ import annotations

import queue
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any

__all__ = ["Contenders", "Span", "assert_inside_at_once", "wait_for"]


def wait_for(condition: Callable[[], Any], timeout: float, what: str = "condition") -> None:
    """Poll `condition` until it is true; fail the test if it is not within `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not seen within {timeout}s")
        time.sleep(0.02)


@dataclass(frozen=True)
class Span:
    """When one contender was inside the contested operation (`time.time()`, comparable
    between processes on one machine)."""

    began: float
    ended: float


def assert_inside_at_once(spans: Sequence[Span], what: str, at_least: int | None = None) -> None:
    """Evidence that a race happened: `at_least` contenders (default: all) were inside `what`
    at one instant.

    Without it a race test passes just as well when the contenders ran one after the other,
    which proves nothing about the race.
    """
    needed = len(spans) if at_least is None else at_least
    # Sweep the starts and ends in time order (an end before a start at the same instant).
    events = sorted([(s.began, 1) for s in spans] + [(s.ended, -1) for s in spans])
    inside = most = 0
    for _, step in events:
        inside += step
        most = max(most, inside)
    assert most >= needed, (
        f"at most {most} of the contenders were inside {what} at once, not {needed}: "
        f"they did not race. {spans}"
    )


_CLOSED = None  # what a reader thread queues when a process closed its stdout


class Contenders:
    """Processes that race each other, let go at the same instant whatever their start-up.

    Each process prints a line `ready` once its slow set-up (imports, connections) is done,
    then waits for a line on its stdin (`sys.stdin.readline()`); `start` waits until every
    process is ready and only then lets them all go. A process may do that more than once
    (one start per phase of a race). What a process prints after its last start is its
    result, read by `results`.
    """

    def __init__(self, commands: Sequence[Sequence[str]], **popen: Any) -> None:
        self._stderr: list[IO[bytes]] = []
        self._lines: list[queue.Queue[str | None]] = []
        self.processes: list[subprocess.Popen[str]] = []
        for command in commands:
            stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
            process = subprocess.Popen(
                list(command),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                **popen,
            )
            lines: queue.Queue[str | None] = queue.Queue()
            threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()
            self._stderr.append(stderr)
            self._lines.append(lines)
            self.processes.append(process)

    def __enter__(self) -> Contenders:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self, timeout: float = 120) -> None:
        """Wait until every process said `ready`, then let them all go at once."""
        deadline = time.monotonic() + timeout
        for index in range(len(self.processes)):
            line = self._next_line(index, deadline)
            assert line == "ready", f"process {index} said {line!r} instead of 'ready'"
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()

    def results(self, timeout: float = 120) -> list[list[str]]:
        """The lines each process printed after its last start; fails if one did not exit 0."""
        deadline = time.monotonic() + timeout
        printed: list[list[str]] = []
        for index, process in enumerate(self.processes):
            lines = []
            while (line := self._next_line(index, deadline, eof_ok=True)) is not None:
                lines.append(line)
            process.wait(max(0.0, deadline - time.monotonic()))
            assert process.returncode == 0, self._failure(index)
            printed.append(lines)
        return printed

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait()
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    stream.close()
        for stderr in self._stderr:
            stderr.close()

    def _next_line(self, index: int, deadline: float, eof_ok: bool = False) -> str | None:
        try:
            line = self._lines[index].get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"process {index} said nothing in time") from None
        if line is _CLOSED and not eof_ok:
            self.processes[index].wait()
            raise AssertionError(self._failure(index))
        return line

    def _failure(self, index: int) -> str:
        stderr = self._stderr[index]
        stderr.seek(0)
        code = self.processes[index].returncode
        return f"process {index} exited with {code}:\n{stderr.read().decode(errors='replace')}"


def _read_lines(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(_CLOSED)
