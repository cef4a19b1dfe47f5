"""The one configuration object: environment over ~/.shipyard/config.toml over defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.config import Config, setting_names
from shipyard.exceptions import ConfigError, ShipyardError


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.toml"
    monkeypatch.setenv("SHIPYARD_CONFIG", str(path))
    # Away from any project's store: `make demo` leaves ./.shipyard in the checkout.
    monkeypatch.chdir(tmp_path)
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


# -- the configuration file: every mistake named, with the file ------------------------------


def test_a_misspelled_key_is_an_error_naming_it_and_the_valid_keys(config_file: Path) -> None:
    config_file.write_text('datastore = "/data"\nexecuter = "ray"\n')

    with pytest.raises(ConfigError) as raised:
        Config.load()

    message = str(raised.value)
    assert str(config_file) in message and "unknown key(s): executer" in message
    assert f"the valid keys are: {', '.join(setting_names())}" in message
    assert {"datastore", "metadata", "user", "executor", "ray_address"} <= set(setting_names())


def test_a_syntax_error_names_the_file(config_file: Path) -> None:
    config_file.write_text('datastore = "/data\n')

    with pytest.raises(ConfigError, match=f"the configuration file {config_file} is not valid"):
        Config.load()


def test_a_table_where_a_value_belongs_is_named(config_file: Path) -> None:
    config_file.write_text('[executor]\nname = "ray"\n')

    with pytest.raises(ConfigError, match=f"{config_file}: executor must be a single value"):
        Config.load()


def test_every_setting_is_documented_with_the_file_and_its_variable() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert "SHIPYARD_CONFIG" in readme
    for name in setting_names():
        assert f"`SHIPYARD_{name.upper()}`" in readme, name
        assert f"`{name}`" in readme, name


# -- finding the store: this folder, then its parents -----------------------------------------


def make_store(folder: Path) -> Path:
    store = folder / ".shipyard"
    (store / "blobs").mkdir(parents=True)
    return store


def test_the_store_is_found_in_a_parent_folder(
    config_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make_store(tmp_path / "project")
    deep = tmp_path / "project" / "src" / "notebooks"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)

    config = Config.load()

    assert (config.datastore, config.metadata) == (str(store), f"sqlite:///{store}/metadata.db")


def test_the_nearest_store_wins(
    config_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_store(tmp_path)
    inner = make_store(tmp_path / "sub")
    monkeypatch.chdir(tmp_path / "sub")

    assert Config.load().datastore == str(inner)


def test_a_folder_holding_only_the_configuration_file_is_not_a_store(
    config_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".shipyard").mkdir()
    (tmp_path / ".shipyard" / "config.toml").write_text("")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")

    assert Config.load().datastore == ".shipyard"


def test_a_configured_datastore_is_not_searched_for(
    config_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_store(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHIPYARD_DATASTORE", str(tmp_path / "elsewhere"))

    assert Config.load().datastore == str(tmp_path / "elsewhere")


# -- where the database of a datastore given by URL lives ------------------------------------


def test_a_file_url_datastore_keeps_its_metadata_beside_it(
    config_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHIPYARD_DATASTORE", f"file://{tmp_path}/shared")

    assert Config.load().metadata == f"sqlite:///{tmp_path}/shared/metadata.db"


def test_a_remote_datastore_keeps_its_metadata_in_the_projects_store(
    config_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make_store(tmp_path)
    (tmp_path / "src").mkdir()
    monkeypatch.chdir(tmp_path / "src")
    monkeypatch.setenv("SHIPYARD_DATASTORE", "s3://bucket/prefix")

    assert Config.load().metadata == f"sqlite:///{store}/metadata.db"
    monkeypatch.chdir(tmp_path.parent)  # no store up the tree: a run creates ./.shipyard
    assert Config.load().metadata == "sqlite:///.shipyard/metadata.db"


def test_gpus_and_the_start_method_of_local_runs_may_be_configured(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (Config.load().gpus, Config.load().start_method) == (None, None)  # detect, default
    config_file.write_text('gpus = 2\nstart_method = "spawn"\n')
    assert (Config.load().gpus, Config.load().start_method) == (2, "spawn")
    monkeypatch.setenv("SHIPYARD_GPUS", "two")
    with pytest.raises(ShipyardError, match="SHIPYARD_GPUS must be a number of GPUs"):
        Config.load()
