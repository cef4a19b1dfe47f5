"""A command run in a child process whose output is kept in files, for `Runner`.

Each stream is read by a thread that appends every line to its log file and, if asked,
echoes it to this process's own stream, so that a run shows its output in a notebook as it
goes, while `stdout`/`stderr` give everything so far and `stream_log` follows the files.
The child leads a process group of its own: stopping it stops the task workers it forked.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Literal

__all__ = ["ChildProcess", "LogStream"]

LogStream = Literal["stdout", "stderr"]

#: How long a stopped child may take to exit on SIGTERM before it is killed.
_TERMINATION_GRACE_SECONDS = 2.0
#: How often `stream_log` looks for new lines.
_POLL_SECONDS = 0.05


class ChildProcess:
    """One started command: its process, its two log files and the threads filling them."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        show_output: bool,
        folder: Path,
    ) -> None:
        self.command = list(command)
        #: A folder of the command's own: its log files, and whatever the caller puts there;
        #: deleted by `cleanup`.
        self.folder = folder
        self.log_files: dict[LogStream, Path] = {
            "stdout": folder / "stdout.log",
            "stderr": folder / "stderr.log",
        }
        self.timed_out = False
        self.process = subprocess.Popen(
            self.command,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        self._copiers = [
            _copier(
                self.process.stdout, self.log_files["stdout"], sys.stdout if show_output else None
            ),
            _copier(
                self.process.stderr, self.log_files["stderr"], sys.stderr if show_output else None
            ),
        ]

    @property
    def returncode(self) -> int | None:
        """The exit status; None while the command runs."""
        return self.process.poll()

    @property
    def done(self) -> bool:
        """Whether the command exited and all its output is in the files."""
        return self.returncode is not None and not any(c.is_alive() for c in self._copiers)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the command to exit and its output to be copied; on `timeout` (seconds)
        stop it and mark it timed out."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.timed_out = True
            self.stop()
        for copier in self._copiers:
            copier.join()

    def output(self, stream: LogStream) -> str:
        """Everything the command wrote to `stream` so far."""
        path = self.log_files[stream]
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    async def stream_log(
        self, stream: LogStream, position: int | None = None
    ) -> AsyncIterator[tuple[int, str]]:
        """Follow `stream` line by line from byte `position` (default: the start) until the
        command has exited and every line was read; yields `(position after the line, line)`,
        so that a later call can resume where this one stopped."""
        if stream not in self.log_files:
            raise ValueError(f"stream must be 'stdout' or 'stderr', not {stream!r}")
        with self.log_files[stream].open("rb") as fh:
            fh.seek(position or 0)
            pending = b""
            while True:
                chunk = fh.readline()
                if chunk:
                    pending += chunk
                    if pending.endswith(b"\n"):
                        yield fh.tell(), pending.decode("utf-8", errors="replace").rstrip("\n")
                        pending = b""
                    continue
                if self.done:
                    if pending:
                        yield fh.tell(), pending.decode("utf-8", errors="replace")
                    return
                await asyncio.sleep(_POLL_SECONDS)

    def stop(self) -> None:
        """Stop the command and the processes it started: SIGTERM, then SIGKILL."""
        if self.process.poll() is not None:
            return
        _signal_group(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(_TERMINATION_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            _signal_group(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def cleanup(self) -> None:
        """Stop the command if it still runs and delete its log files."""
        self.stop()
        for copier in self._copiers:
            copier.join()
        shutil.rmtree(self.folder, ignore_errors=True)


def _copier(pipe: IO[bytes], path: Path, echo: IO[str] | None) -> threading.Thread:
    def copy() -> None:
        with path.open("wb") as log:
            for line in iter(pipe.readline, b""):
                log.write(line)
                log.flush()
                if echo is not None:
                    echo.write(line.decode("utf-8", errors="replace"))
                    echo.flush()
        pipe.close()

    path.touch()
    thread = threading.Thread(target=copy, name=f"shipyard-runner-{path.stem}", daemon=True)
    thread.start()
    return thread


def _signal_group(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)
