"""The one configuration object: environment over ~/.shipyard/config.toml over defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.config import Config
from shipyard.exceptions import ShipyardError


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.toml"
    monkeypatch.setenv("SHIPYARD_CONFIG", str(path))
    for key in ("DATASTORE", "METADATA", "USER", "EXECUTOR", "RAY_ADDRESS", "GPUS", "START_METHOD"):
        monkeypatch.delenv(f"SHIPYARD_{key}", raising=False)
    return path


def test_defaults_need_nothing_installed(config_file: Path) -> None:
    config = Config.load()
    assert (config.datastore, config.metadata) == (".shipyard", "sqlite:///.shipyard/metadata.db")
    assert (config.executor, config.ray_address) == ("local", "auto")


def test_the_file_sets_the_executor_and_the_environment_wins(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file.write_text('executor = "ray"\nray_address = "10.0.0.5:6379"\n')
    assert (Config.load().executor, Config.load().ray_address) == ("ray", "10.0.0.5:6379")
    monkeypatch.setenv("SHIPYARD_EXECUTOR", "local")
    assert Config.load().executor == "local"


def test_a_custom_local_datastore_keeps_its_metadata_beside_it(
    config_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPYARD_DATASTORE", str(tmp_path / "store"))
    assert Config.load().metadata == f"sqlite:///{tmp_path / 'store' / 'metadata.db'}"


def test_the_process_reads_its_configuration_once_until_told_to_reload(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read = Config.reload()
    monkeypatch.setenv("SHIPYARD_USER", "zoe")
    assert Config.current() is read
    assert Config.reload().user == "zoe"
    assert Config.current().user == "zoe"


def test_gpus_and_the_start_method_of_local_runs_may_be_configured(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (Config.load().gpus, Config.load().start_method) == (None, None)  # detect, default
    config_file.write_text('gpus = 2\nstart_method = "spawn"\n')
    assert (Config.load().gpus, Config.load().start_method) == (2, "spawn")
    monkeypatch.setenv("SHIPYARD_GPUS", "two")
    with pytest.raises(ShipyardError, match="SHIPYARD_GPUS must be a number of GPUs"):
        Config.load()
