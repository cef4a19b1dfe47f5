"""Faults of Shipyard's own storage during `python flow.py run`: one line, their own exit code,
and the real cause recorded on the task and the run (never "the run was interrupted")."""

from __future__ import annotations

import shutil

import pytest

from shipyard import Flow
from shipyard.exceptions import INFRASTRUCTURE_EXIT_CODE

from ..conftest import Home


def put_blobs_back(home: Home) -> None:
    """Undo what sabotage_flow.py did, so that the run's record can be read back."""
    blobs = home.root / "store" / "blobs"
    blobs.unlink()
    (home.root / "store" / "blobs.moved").rename(blobs)


@pytest.mark.parametrize("executor", ["local", "inline"])
def test_a_task_whose_logs_cannot_be_stored_fails_with_the_real_cause(
    home: Home, executor: str
) -> None:
    done = home.run_flow("sabotage_flow.py", "run", "--executor", executor)

    assert done.returncode == INFRASTRUCTURE_EXIT_CODE, done.stderr
    assert "Traceback" not in done.stderr
    assert "cannot write to the datastore" in done.stderr
    assert "Not a directory" in done.stderr
    put_blobs_back(home)
    run = Flow("SabotageFlow").latest_run
    assert run is not None and run.finished and not run.successful
    assert run["start"].task.successful
    end = run["end"].task
    assert end.status.value == "failed"
    assert end.exception is not None
    assert "DatastoreError: cannot write to the datastore" in end.exception
    assert "interrupted" not in end.exception


def test_a_datastore_that_refuses_the_code_snapshot_stops_the_run_before_it_starts(
    home: Home,
) -> None:
    assert home.run_flow("linear_flow.py", "run", "--count", "1").returncode == 0
    blobs = home.root / "store" / "blobs"
    shutil.rmtree(blobs)
    blobs.write_text("not a folder")

    done = home.run_flow("linear_flow.py", "run", "--count", "1")

    assert done.returncode == INFRASTRUCTURE_EXIT_CODE
    assert done.stderr.startswith("error: cannot write to the datastore")
    assert len(done.stderr.strip().splitlines()) == 1


def test_an_unknown_datastore_protocol_is_one_line_and_exit_code_3(home: Home) -> None:
    home.env = {**home.env, "SHIPYARD_DATASTORE": "nosuch://bucket/store"}

    done = home.run_flow("linear_flow.py", "run", "--count", "1")

    assert done.returncode == INFRASTRUCTURE_EXIT_CODE
    assert done.stderr.startswith("error: cannot open the datastore 'nosuch://bucket/store'")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nosuchdb://host/db", "unsupported metadata database 'nosuchdb://host/db'"),
        ("not a url", "SHIPYARD_METADATA='not a url' is not a database URL"),
        (
            "postgresql://nobody@127.0.0.1:9/nothing",
            "cannot use the metadata database postgresql://nobody@127.0.0.1:9/nothing",
        ),
    ],
)
def test_a_bad_or_unreachable_metadata_url_is_one_line_and_exit_code_3(
    home: Home, url: str, message: str
) -> None:
    home.env = {**home.env, "SHIPYARD_METADATA": url}

    done = home.run_flow("linear_flow.py", "run", "--count", "1")

    assert done.returncode == INFRASTRUCTURE_EXIT_CODE, done.stderr
    assert done.stderr.startswith(f"error: {message}")
    assert "Traceback" not in done.stderr


def test_a_damaged_database_is_named_with_how_to_recover(home: Home) -> None:
    assert home.run_flow("linear_flow.py", "run", "--count", "1").returncode == 0
    database = home.root / "store" / "metadata.db"
    with database.open("r+b") as f:
        f.write(b"this is no longer an SQLite file header")

    for command in ("run", "resume"):
        args = ["--count", "1"] if command == "run" else []
        done = home.run_flow("linear_flow.py", command, *args)
        assert done.returncode == INFRASTRUCTURE_EXIT_CODE
        assert done.stderr.startswith(f"error: the metadata database {database} is damaged")
        assert "Restore it from a backup" in done.stderr
        assert "Traceback" not in done.stderr


@pytest.mark.parametrize("fault", ["deleted", "emptied"])
def test_a_new_database_beside_earlier_runs_is_refused_unless_asked_for(
    home: Home, fault: str
) -> None:
    assert home.run_flow("linear_flow.py", "run", "--count", "1").returncode == 0
    database = home.root / "store" / "metadata.db"
    database.unlink()
    if fault == "emptied":
        database.touch()

    refused = home.run_flow("linear_flow.py", "run", "--count", "1")

    assert refused.returncode == INFRASTRUCTURE_EXIT_CODE
    assert "holds the data of earlier runs" in refused.stderr
    assert "--new-metadata" in refused.stderr
    assert database.exists() == (fault == "emptied")
    assert not database.exists() or database.stat().st_size == 0
    asked = home.run_flow("linear_flow.py", "run", "--count", "1", "--new-metadata")
    assert asked.returncode == 0, asked.stderr
    assert "LinearFlow/1 succeeded" in asked.stdout


def test_a_first_run_creates_the_database_beside_an_empty_datastore(home: Home) -> None:
    done = home.run_flow("linear_flow.py", "run", "--count", "1")
    assert done.returncode == 0, done.stderr
    assert (home.root / "store" / "metadata.db").is_file()
