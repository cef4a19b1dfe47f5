"""Task output: standard streams sent to files at the descriptor level, kept as blobs."""

from __future__ import annotations

import os
from pathlib import Path

from shipyard.datastore.blobs import BlobStore


def redirect_fd(fd: int, path: Path) -> None:
    """Point a standard stream at a file at the descriptor level, so C code is captured too."""
    target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(target, fd)
    os.close(target)


def store_log(blobs: BlobStore, path: Path) -> str | None:
    """Keep a task's log as a blob; an empty or missing log is recorded as none at all."""
    try:
        if path.stat().st_size == 0:
            return None
    except FileNotFoundError:
        return None
    return blobs.put_file(path)
