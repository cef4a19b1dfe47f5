"""Garbage collection: find and remove blobs that no run, task or log refers to any more.

Blobs younger than a minimum age are always kept: a running task stores its artifacts
before the metadata refers to them, and re-storing an existing blob refreshes its age. The age
is checked twice, when garbage is found and again as each blob is deleted
(`BlobStore.delete_if_older`), so a blob a run stored again in between survives.
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

    #: Blobs and temporary files written after this POSIX time are kept.
    cutoff: float
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
    report = GarbageReport(cutoff)
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
    """Delete what `find_garbage` reported, except blobs stored again since: those move from
    `unreferenced` to `kept_too_young`, so the report says what was removed."""
    removed = []
    for sha, size in report.unreferenced:
        if blobs.delete_if_older(sha, report.cutoff):
            removed.append((sha, size))
        else:
            report.kept_too_young += 1
    report.unreferenced = removed
    for path, _ in report.temp_files:
        blobs.remove_temp_file(path)
    report.removed = True
