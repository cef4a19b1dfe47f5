"""`shipyard gc` reports (and with --delete removes) blobs nothing refers to."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from shipyard import Flow
from shipyard.cli.main import cli
from shipyard.datastore.blobs import BlobStore
from shipyard.exceptions import ObjectNotFound

from ..conftest import FLOWS, Home
from ..waiting import wait_for


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


def test_gc_removes_the_task_folders_of_killed_runners_only(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A runner killed with SIGKILL cannot remove its `shipyard-tasks-*` folder; gc does."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**home.env, "TMPDIR": str(temp)}
    slow = home.root / "slow_flow.py"
    slow.write_text((FLOWS / "killable_flow.py").read_text())
    runner = subprocess.Popen(
        [sys.executable, str(slow), "run", "--max-workers", "2"],
        env=env,
        cwd=home.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )

    def task_folders() -> list[Path]:
        return [p for p in temp.iterdir() if p.name.startswith(f"shipyard-tasks-{runner.pid}-")]

    def started() -> bool:
        try:  # a run recorded, so the metadata exists for gc, and tasks under way
            return Flow("KillableFlow").latest_run is not None and bool(task_folders())
        except ObjectNotFound:
            return False

    wait_for(started, timeout=60, what="the run recorded and its task folder")
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait(timeout=30)
    killed = task_folders()
    assert len(killed) == 1 and killed[0].is_dir()
    in_use = temp / f"shipyard-tasks-{os.getpid()}-abcd1234"  # this process is alive
    in_use.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))

    dry = CliRunner().invoke(cli, ["gc"], env={"COLUMNS": "300"})
    assert dry.exit_code == 0, dry.output
    assert f"{killed[0]}  (its runner, pid {runner.pid}, is gone)" in dry.output
    assert "1 folder(s) left by killed runners" in dry.output
    assert killed[0].exists()

    done = CliRunner().invoke(cli, ["gc", "--delete"])
    assert done.exit_code == 0, done.output
    assert "removed 1 folder(s) of killed runners" in done.output
    assert not killed[0].exists()
    assert in_use.is_dir()
