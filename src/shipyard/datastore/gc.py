"""Garbage collection: find and remove blobs that no run, task or log refers to any more.

Blobs younger than a minimum age are always kept: a running task stores its artifacts
before the metadata refers to them, and re-storing an existing blob refreshes its age.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from shipyard.datastore.blobs import BlobStore

DEFAULT_MIN_AGE_SECONDS = 3600.0


@dataclass
class GarbageReport:
    """What a collection found (and, unless it was a dry run, removed)."""

    unreferenced: list[tuple[str, int]] = field(default_factory=list)
    kept_too_young: int = 0
    temp_files: list[tuple[str, int]] = field(default_factory=list)
    removed: bool = False

    @property
    def reclaimable_bytes(self) -> int:
        return sum(size for _, size in self.unreferenced) + sum(s for _, s in self.temp_files)


def find_garbage(
    blobs: BlobStore,
    referenced: Iterable[str],
    min_age_seconds: float = DEFAULT_MIN_AGE_SECONDS,
) -> GarbageReport:
    """List unreferenced blobs and stray temporary files older than `min_age_seconds`."""
    keep = set(referenced)
    cutoff = time.time() - min_age_seconds
    report = GarbageReport()
    for sha in blobs.iter_hashes():
        if sha in keep:
            continue
        if blobs.modified_at(sha) > cutoff:
            report.kept_too_young += 1
            continue
        report.unreferenced.append((sha, blobs.size(sha)))
    for path, modified in blobs.temp_files():
        if modified <= cutoff:
            with contextlib.suppress(FileNotFoundError):
                report.temp_files.append((path, os.path.getsize(path)))
    return report


def remove_garbage(blobs: BlobStore, report: GarbageReport) -> None:
    """Delete what `find_garbage` reported."""
    for sha, _ in report.unreferenced:
        blobs.delete(sha)
    for path, _ in report.temp_files:
        blobs.remove_temp_file(path)
    report.removed = True
