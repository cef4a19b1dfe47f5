"""Task output: where a task's stdout and stderr go while it runs, and how they become logs.

Every executor captures through here. A task in a process of its own (a forked worker,
a Ray worker, a fresh interpreter) has descriptors 1 and 2 pointed at files, so output of C
code is kept too (`captured`). A task run inside the runner (the inline executor) leaves the
descriptors alone so that pdb keeps its terminal, and copies what Python code prints into
the files instead (`teed`); output written by C code directly to the descriptors is not kept
there. Either way the files become blobs once the task is done (`LogFiles.store`).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from shipyard.datastore.blobs import BlobStore
from shipyard.datastore.folders import in_folder


@dataclass(frozen=True)
class LogFiles:
    """The two files one task's output is written to before it is stored."""

    stdout: Path
    stderr: Path

    @classmethod
    def in_folder(cls, folder: Path, key: str) -> LogFiles:
        return cls(folder / f"{key}.stdout", folder / f"{key}.stderr")

    def exist(self) -> bool:
        return self.stdout.exists() or self.stderr.exists()

    def store(self, blobs: BlobStore) -> tuple[str | None, str | None]:
        """Keep both files as blobs (an empty or missing one is no log at all): their hashes."""
        return _store_log(blobs, self.stdout), _store_log(blobs, self.stderr)

    def remove(self) -> None:
        for path in (self.stdout, self.stderr):
            path.unlink(missing_ok=True)


def _store_log(blobs: BlobStore, path: Path) -> str | None:
    try:
        if path.stat().st_size == 0:
            return None
    except FileNotFoundError:
        return None
    return blobs.put_file(path)


@contextlib.contextmanager
def captured(files: LogFiles) -> Iterator[None]:
    """Send descriptors 1 and 2 to the log files (C code included), then put them back.

    The files are appended to, so what an interpreter wrote while starting up (when a
    launcher opened the same files for it) stays in the log. Python's streams are made
    line-buffered meanwhile, so a task killed outright still leaves the lines it printed.
    """
    streams = (sys.stdout, sys.stderr)
    _flush(streams)
    saved = [(fd, os.dup(fd)) for fd in (1, 2)]
    for fd, path in ((1, files.stdout), (2, files.stderr)):
        target = _open_appending(path)
        os.dup2(target, fd)
        os.close(target)
    buffering = [_line_buffered(stream, True) for stream in streams]
    try:
        yield
    finally:
        _flush(streams)
        for stream, was in zip(streams, buffering, strict=True):
            _line_buffered(stream, was)
        for fd, copy in saved:
            os.dup2(copy, fd)
            os.close(copy)


def _open_appending(path: Path) -> int:
    """A descriptor appending to `path`, made with its folder if missing."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
    return in_folder(path.parent, lambda: os.open(path, flags, 0o644))


@contextlib.contextmanager
def teed(files: LogFiles) -> Iterator[None]:
    """Copy what Python code writes to `sys.stdout`/`sys.stderr` into the log files.

    The streams keep writing where they did (a terminal, for pdb); only Python-level writes
    are copied, so output C code writes straight to the descriptors is not in the logs.
    """
    files.stdout.parent.mkdir(parents=True, exist_ok=True)
    original = sys.stdout, sys.stderr
    with files.stdout.open("a") as out, files.stderr.open("a") as err:
        sys.stdout, sys.stderr = _Tee(original[0], out), _Tee(original[1], err)
        try:
            yield
        finally:
            sys.stdout, sys.stderr = original


class _Tee(io.TextIOBase):
    """A text stream writing to its original stream and to a log file."""

    def __init__(self, stream: TextIO, log: TextIO) -> None:
        self._stream = stream
        self._log = log

    def write(self, text: str) -> int:
        self._log.write(text)
        return self._stream.write(text)

    def flush(self) -> None:
        self._log.flush()
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._stream.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self._stream.errors

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _flush(streams: tuple[TextIO, ...]) -> None:
    for stream in streams:
        with contextlib.suppress(Exception):
            stream.flush()


def _line_buffered(stream: TextIO, on: bool) -> bool:
    """Set a stream's line buffering; returns what it was (streams without it stay as they are)."""
    was = bool(getattr(stream, "line_buffering", on))
    with contextlib.suppress(AttributeError, ValueError):
        stream.reconfigure(line_buffering=on)  # type: ignore[attr-defined]
    return was
