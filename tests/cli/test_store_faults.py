"""The `shipyard` command on a damaged, missing or read-only store: one line naming the fault,
exit code 3, and nothing written where only reading was asked for."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from shipyard import Flow
from shipyard.cli.main import cli
from shipyard.config import Config
from shipyard.datastore.blobs import BlobStore
from shipyard.exceptions import INFRASTRUCTURE_EXIT_CODE
from shipyard.metadata import MetadataDamaged, open_metadata
from shipyard.metadata.run_index import open_run_index

from ..conftest import Home


def shipyard(*args: str) -> Result:
    Config.reload()  # as a `shipyard` process would, which reads it when it starts
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": "200"})


def use_store(monkeypatch: pytest.MonkeyPatch, store: Path) -> None:
    monkeypatch.setenv("SHIPYARD_DATASTORE", str(store))
    monkeypatch.setenv("SHIPYARD_METADATA", f"sqlite:///{store / 'metadata.db'}")
    Config.reload()


def test_text_a_damaged_page_made_invalid_is_reported_as_a_damaged_database_not_utf8(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "store" / "metadata.db"
    url = f"sqlite:///{database}"
    with open_metadata(url) as store:
        store.create_run("TrainFlow", "someone-unusual")
    content = database.read_bytes()
    assert b"someone-unusual" in content
    # The first copy is the run's row; its user is no longer UTF-8, as after a bit flip.
    database.write_bytes(content.replace(b"someone-unusual", b"\xff\xfemeone-unusual", 1))

    with open_metadata(url, create=False) as store, pytest.raises(MetadataDamaged) as damaged:
        store.list_runs()
    assert str(damaged.value).startswith(f"the metadata database {database} is damaged")
    index = open_run_index(url)
    assert index is not None
    with pytest.raises(MetadataDamaged):
        index.list_runs()

    use_store(monkeypatch, tmp_path / "store")
    result = shipyard("runs", "--all-users")
    assert result.exit_code == INFRASTRUCTURE_EXIT_CODE
    assert result.stderr.startswith(f"error: the metadata database {database} is damaged")
    assert "sqlite3" in result.stderr and ".recover" in result.stderr
    assert "UTF-8" in result.stderr  # the driver's words, after ours, not instead of them


def test_gc_refuses_to_run_without_the_metadata_database(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert home.run_flow("linear_flow.py", "run", "--count", "1").returncode == 0
    blobs = BlobStore(str(home.root / "store"))
    before = set(blobs.iter_hashes())
    (home.root / "store" / "metadata.db").unlink()

    result = shipyard("gc", "--delete", "--min-age", "0")

    assert result.exit_code == INFRASTRUCTURE_EXIT_CODE
    assert "no metadata database" in result.stderr
    assert set(blobs.iter_hashes()) == before
    assert not (home.root / "store" / "metadata.db").exists()


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under `folder` with its size and modification time."""
    found = {}
    for path in [folder, *folder.rglob("*")]:
        status = path.stat()
        found[str(path.relative_to(folder))] = (status.st_size, status.st_mtime_ns)
    return found


@pytest.fixture
def read_only_copy(home: Home) -> Iterator[Path]:
    """A read-only copy of a store holding one run (`chmod -R a-w`, as a backup would be)."""
    assert home.run_flow("linear_flow.py", "run", "--count", "3").returncode == 0
    copy = home.root / "read-only-copy"
    shutil.copytree(home.root / "store", copy)
    folders = [copy, *(p for p in copy.rglob("*") if p.is_dir())]
    for path in [*copy.rglob("*"), copy]:
        path.chmod(stat.S_IMODE(path.stat().st_mode) & ~0o222)
    yield copy
    for folder in folders:
        folder.chmod(0o755)


def test_a_read_only_copy_of_a_store_can_be_inspected_without_writing_to_it(
    read_only_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(read_only_copy)
    use_store(monkeypatch, read_only_copy)

    runs = shipyard("runs", "--all-users")
    assert runs.exit_code == 0, runs.output
    assert "LinearFlow/1" in runs.stdout
    shown = shipyard("show", "LinearFlow/1")
    assert shown.exit_code == 0, shown.output
    assert "succeeded" in shown.stdout
    logs = shipyard("logs", "LinearFlow/1/start")
    assert logs.exit_code == 0, logs.output
    assert "hello from start" in logs.stdout
    values = shipyard("artifacts", "LinearFlow/1/middle", "--show", "numbers")
    assert values.exit_code == 0, values.output
    assert values.stdout.strip() == "[0, 1, 2]"
    run = Flow("LinearFlow").latest_run
    assert run is not None and run["middle"].task.data.total == 1.5

    assert snapshot(read_only_copy) == before  # nothing written: no -shm, no -wal, no mtime
    assert not any(name.endswith(("-shm", "-wal")) for name in os.listdir(read_only_copy))
