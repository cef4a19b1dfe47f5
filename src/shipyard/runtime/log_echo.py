"""Echoing what tasks print while a run goes on, line by line, named by the task's pathspec.

Tasks keep writing their output to files (`runtime.capture`), which become their stored logs;
nothing in a task changes and no pipe stands between a task and its output. The runner
follows the files of running tasks instead, from a thread that wakes a few times a second and
reads only files that grew, and takes what a task wrote after the last look from its stored
log once it finished. A run whose tasks print nothing costs a `stat` per running task and
poll, so a fan-out of a thousand silent tasks runs as fast as without it.

Executors say where a running task writes (`LiveLogs`); one that cannot (a task on another
machine) still has its output shown, all at once when it finished.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from shipyard.datastore.blobs import BlobStore
from shipyard.exceptions import DatastoreError
from shipyard.runtime.capture import LogFiles
from shipyard.runtime.spec import TaskResult, TaskSpec

Stream = Literal["stdout", "stderr"]
#: Receives one line a task wrote (without its newline): the task's pathspec, stream, text.
LineSink = Callable[[str, Stream, str], None]

#: How often running tasks' files are looked at; a line shows at most this late.
POLL_SECONDS = 0.2
# One look reads at most this much of a file, so a task printing in a tight loop cannot
# keep the runner reading; the rest is read at the next look (or from the stored log).
_MAX_READ = 1 << 20


@runtime_checkable
class LiveLogs(Protocol):
    """An executor that can say where a running task's output is being written."""

    def live_logs(self, spec: TaskSpec) -> LogFiles | None:
        """The files `spec` writes to while it runs here, readable from the runner; None
        once it is no longer running (the files may then belong to another task)."""
        ...


@dataclass
class _Tail:
    spec: TaskSpec
    #: Bytes of each stream already echoed: always up to the end of a line.
    offsets: dict[Stream, int] = field(default_factory=lambda: {"stdout": 0, "stderr": 0})


class LogEcho:
    """A progress listener that echoes tasks' output lines to `sink` as they are written.

    Use it as a context manager around the run (it starts and stops its thread).
    """

    def __init__(self, blobs: BlobStore, live: LiveLogs | None, sink: LineSink) -> None:
        self._blobs = blobs
        self._live = live
        self._sink = sink
        self._tails: dict[str, _Tail] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> LogEcho:
        if self._live is not None:
            self._thread = threading.Thread(target=self._follow, name="log-echo", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    # -- ProgressListener ------------------------------------------------------------------
    def task_queued(self, step_name: str) -> None:
        pass

    def task_reused(self, step_name: str, task_id: str, origin: str) -> None:
        pass

    def task_started(self, spec: TaskSpec) -> None:
        with self._lock:
            self._tails[spec.key] = _Tail(spec)

    def task_finished(self, spec: TaskSpec, result: TaskResult) -> None:
        """Echo what the task wrote after the last look, from its stored logs."""
        with self._lock:
            tail = self._tails.pop(spec.key, None) or _Tail(spec)
            stored: dict[Stream, str | None] = {
                "stdout": result.stdout_hash,
                "stderr": result.stderr_hash,
            }
            for stream, digest in stored.items():
                if digest is not None:
                    # A failed task's error ends its stderr; the run's report shows it once.
                    shown_at_the_end = result.error if stream == "stderr" else None
                    self._echo_rest(tail, stream, digest, shown_at_the_end)

    # -- following -------------------------------------------------------------------------
    def _follow(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            with self._lock:
                for tail in list(self._tails.values()):
                    self._look(tail)

    def _look(self, tail: _Tail) -> None:
        assert self._live is not None
        files = self._live.live_logs(tail.spec)
        if files is None:
            return
        paths: dict[Stream, Path] = {"stdout": files.stdout, "stderr": files.stderr}
        grown = {stream: _read_lines(path, tail.offsets[stream]) for stream, path in paths.items()}
        # Still running there? If not, the files may already hold the next task's output:
        # what was read is dropped, and the stored logs give the rest (`task_finished`).
        if self._live.live_logs(tail.spec) != files:
            return
        for stream, data in grown.items():
            self._echo(tail, stream, data)

    def _echo_rest(
        self, tail: _Tail, stream: Stream, digest: str, left_out: str | None = None
    ) -> None:
        try:
            data = bytes(self._blobs.get(digest))[tail.offsets[stream] :]
        except DatastoreError:
            return  # the log is shown by `shipyard logs`, or its absence reported there
        if left_out:
            data = data.removesuffix(left_out.encode())
        if data and not data.endswith(b"\n"):
            data += b"\n"
        self._echo(tail, stream, data)

    def _echo(self, tail: _Tail, stream: Stream, data: bytes) -> None:
        if not data:
            return
        tail.offsets[stream] += len(data)
        pathspec = tail.spec.pathspec
        for line in data.decode("utf-8", errors="replace").splitlines():
            self._sink(pathspec, stream, line)


def _read_lines(path: Path, offset: int) -> bytes:
    """The complete lines written to `path` after `offset` (b"" if none or no such file)."""
    try:
        if os.stat(path).st_size <= offset:
            return b""
        with open(path, "rb") as file:
            file.seek(offset)
            data = file.read(_MAX_READ)
    except OSError:
        return b""
    end = data.rfind(b"\n")
    return data[: end + 1] if end >= 0 else b""
