"""`shipyard gc` reports (and with --delete removes) blobs nothing refers to."""

from __future__ import annotations

import os
import time

from click.testing import CliRunner

from shipyard import Flow
from shipyard.cli.main import cli
from shipyard.datastore.blobs import BlobStore

from ..conftest import Home


def age(blobs: BlobStore, sha: str, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(blobs.path_of(sha), (past, past))


def test_gc_is_a_dry_run_by_default_and_deletes_only_when_asked(home: Home):
    assert home.run_flow("linear_flow.py", "run", "--count", "2").returncode == 0
    blobs = BlobStore(str(home.root / "store"))
    orphan = blobs.put_bytes(b"nobody refers to me")
    age(blobs, orphan, 7200)
    before = set(blobs.iter_hashes())

    dry = CliRunner().invoke(cli, ["gc"])
    assert dry.exit_code == 0, dry.output
    assert orphan in dry.output and "1 unreferenced file(s)" in dry.output
    assert set(blobs.iter_hashes()) == before

    done = CliRunner().invoke(cli, ["gc", "--delete"])
    assert done.exit_code == 0, done.output
    assert set(blobs.iter_hashes()) == before - {orphan}
    run = Flow("LinearFlow").latest_run
    assert run["middle"].task.data.total == 0.5  # everything referenced is intact


def test_gc_keeps_young_blobs_that_a_running_task_may_own(home: Home):
    assert home.run_flow("linear_flow.py", "run", "--count", "1").returncode == 0
    blobs = BlobStore(str(home.root / "store"))
    fresh = blobs.put_bytes(b"written by a task still running")
    done = CliRunner().invoke(cli, ["gc", "--delete"])
    assert done.exit_code == 0
    assert "kept 1 unreferenced blob(s)" in done.output
    assert blobs.exists(fresh)


def test_restoring_an_existing_blob_makes_it_young_again(home: Home):
    assert home.run_flow("linear_flow.py", "run", "--count", "1").returncode == 0
    blobs = BlobStore(str(home.root / "store"))
    sha = blobs.put_bytes(b"old but about to be used again")
    age(blobs, sha, 7200)
    blobs.put_bytes(b"old but about to be used again")
    assert time.time() - blobs.modified_at(sha) < 60


def test_gc_removes_temp_files_left_by_killed_writers(home: Home):
    assert home.run_flow("linear_flow.py", "run", "--count", "1").returncode == 0
    blob_root = home.root / "store" / "blobs"
    litter = blob_root / ".tmp-12345-deadbeef"
    litter.write_bytes(b"half a blob")
    past = time.time() - 7200
    os.utime(litter, (past, past))
    done = CliRunner().invoke(cli, ["gc", "--delete"])
    assert done.exit_code == 0, done.output
    assert not litter.exists()
