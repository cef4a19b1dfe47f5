"""A runner's scratch folders in the temporary directory, and the ones killed runners left.

An executor keeps its task log files in a folder of its own under the temporary directory
and removes it when the run ends; a runner killed with SIGKILL cannot, and nothing else
would. The runner's process id is part of the folder's name (`shipyard-tasks-<pid>-...`), so
that `shipyard gc` can tell a folder whose runner is gone from one in use without guessing
from its age: a run may last for days.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from shipyard.metadata.liveness import process_exists

__all__ = ["AbandonedWorkdir", "abandoned_workdirs", "make_workdir"]

#: The kinds of scratch folder: the local executor's and the inline executor's.
KINDS = ("tasks", "inline")
_NAME = re.compile(rf"shipyard-(?:{'|'.join(KINDS)})-(\d+)-.+")


def make_workdir(kind: str) -> Path:
    """A new, empty scratch folder of this process for `kind` (one of `KINDS`)."""
    assert kind in KINDS, kind
    return Path(tempfile.mkdtemp(prefix=f"shipyard-{kind}-{os.getpid()}-"))


@dataclass(frozen=True)
class AbandonedWorkdir:
    """A scratch folder whose runner no longer exists."""

    path: Path
    runner_pid: int
    size: int

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def abandoned_workdirs(root: Path | None = None) -> Iterator[AbandonedWorkdir]:
    """The scratch folders in `root` (the temporary directory) whose runner process is gone.

    The temporary directory is this machine's, so the process table answers; a pid that was
    reused keeps its folder, which errs on the safe side.
    """
    root = root or Path(tempfile.gettempdir())
    for path in sorted(root.glob("shipyard-*-*-*")):
        match = _NAME.fullmatch(path.name)
        if match is None or not path.is_dir():
            continue
        pid = int(match.group(1))
        if not process_exists(pid):
            yield AbandonedWorkdir(path, pid, _size(path))


def _size(folder: Path) -> int:
    total = 0
    for entry in folder.rglob("*"):
        try:
            total += entry.lstat().st_size if entry.is_file() else 0
        except OSError:  # removed meanwhile
            continue
    return total
