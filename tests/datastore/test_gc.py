"""Garbage collection decides at the moment of deletion, so it never removes what a run just
stored again."""

from __future__ import annotations

import os
import time
from pathlib import Path

from shipyard.datastore.artifacts import ArtifactStore
from shipyard.datastore.blobs import BlobStore
from shipyard.datastore.gc import find_garbage, remove_garbage


def aged(blobs: BlobStore, sha: str, seconds: float = 7200) -> str:
    past = time.time() - seconds
    os.utime(blobs.path_of(sha), (past, past))
    return sha


def test_a_blob_stored_again_between_scan_and_delete_is_kept(tmp_path: Path) -> None:
    blobs = BlobStore(str(tmp_path))
    store = ArtifactStore(blobs)
    ref = store.save({"weights": [1, 2, 3]})
    aged(blobs, ref.sha256)
    orphan = aged(blobs, blobs.put_chunks([b"nobody needs me"])[0])

    report = find_garbage(blobs, referenced=[])  # the scan: both look like garbage
    assert {sha for sha, _ in report.unreferenced} == {ref.sha256, orphan}
    again = store.save({"weights": [1, 2, 3]})  # a run stores the same artifact again
    remove_garbage(blobs, report)  # the delete

    assert again == ref
    assert store.load(ref) == {"weights": [1, 2, 3]}
    assert not blobs.exists(orphan)
    assert report.unreferenced == [(orphan, len(b"nobody needs me"))]
    assert report.kept_too_young == 1


def test_a_blob_put_again_by_hash_between_scan_and_delete_is_kept(tmp_path: Path) -> None:
    blobs = BlobStore(str(tmp_path))
    sha = aged(blobs, blobs.put_bytes(b"code snapshot"))

    report = find_garbage(blobs, referenced=[])
    assert blobs.put_bytes(b"code snapshot") == sha
    remove_garbage(blobs, report)

    assert blobs.get(sha) == b"code snapshot"
    assert report.unreferenced == []


def test_deleting_leaves_no_temporary_file_behind(tmp_path: Path) -> None:
    blobs = BlobStore(str(tmp_path))
    sha = aged(blobs, blobs.put_bytes(b"old"))

    remove_garbage(blobs, find_garbage(blobs, referenced=[]))

    assert not blobs.exists(sha)
    assert list(blobs.temp_files()) == []
