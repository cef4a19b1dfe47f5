"""The one configuration object: environment, then ~/.shipyard/config.toml, then defaults.

It is read once per process (`Config.current()`), not by every object that needs it: parsing
the file and looking up the user cost more than a client object itself. A process that
changes `SHIPYARD_*` afterwards says so with `Config.reload()`. Forked task workers inherit
the configuration of the run that forked them; child processes read their own environment.

Without `SHIPYARD_DATASTORE` the store is found the way Metaflow finds `.metaflow`: the first
`.shipyard` store in the current folder or one of its parents, so that every folder of a
project sees the same runs; where there is none, a run creates `./.shipyard`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.exceptions import ConfigError

__all__ = ["STORE_DIR", "Config", "config_file", "find_store", "setting_names"]

_ENV_PREFIX = "SHIPYARD_"
#: The name of a project's store folder, found in the current folder or its parents.
STORE_DIR = ".shipyard"


def config_file() -> Path:
    """The configuration file: `SHIPYARD_CONFIG`, else `~/.shipyard/config.toml`."""
    return Path(os.environ.get("SHIPYARD_CONFIG", Path.home() / STORE_DIR / "config.toml"))


def setting_names() -> tuple[str, ...]:
    """The keys of the configuration file, each also `SHIPYARD_<KEY>`: the fields of `Config`.

    Derived from the dataclass, so that a setting added there is valid everywhere at once.
    """
    return tuple(f.name for f in dataclasses.fields(Config))


def find_store(start: Path) -> Path | None:
    """The first `.shipyard` store in `start` or its parents, or None.

    A `.shipyard` folder counts when it holds a store (its metadata database or its blobs), so
    that `~/.shipyard` holding only `config.toml` is not taken for one.
    """
    for folder in (start, *start.parents):
        candidate = folder / STORE_DIR
        if (candidate / "metadata.db").is_file() or (candidate / "blobs").is_dir():
            return candidate
    return None


def _file_settings(names: tuple[str, ...]) -> dict[str, str]:
    """The settings of the configuration file; every error names the file."""
    path = config_file()
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"the configuration file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"the configuration file {path} cannot be read: {exc}") from None
    settings = {str(key).lower(): value for key, value in data.items()}
    unknown = sorted(key for key in settings if key not in names)
    if unknown:
        raise ConfigError(
            f"the configuration file {path} has unknown key(s): {', '.join(unknown)}; "
            f"the valid keys are: {', '.join(names)}"
        )
    for key, value in settings.items():
        if isinstance(value, dict | list):
            raise ConfigError(
                f"the configuration file {path}: {key} must be a single value such as "
                f'{key} = "...", not a {"table" if isinstance(value, dict) else "list"}'
            )
    return {key: str(value) for key, value in settings.items()}


def _local_folder(datastore: str) -> Path | None:
    """The folder of a datastore on this machine's disk (a path or a `file://` URL), else None."""
    if datastore.startswith("file://"):
        return Path(datastore.removeprefix("file://"))
    return None if "://" in datastore else Path(datastore)


def _default_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "unknown"


@dataclass(frozen=True)
class Config:
    """Where blobs and metadata live and who is running.

    `datastore` is an fsspec URL (a plain path means the local disk) and `metadata`
    an SQLAlchemy URL. The defaults keep everything under `./.shipyard/` so that a
    laptop needs nothing installed.
    """

    datastore: str = STORE_DIR
    metadata: str = f"sqlite:///{STORE_DIR}/metadata.db"
    user: str = field(default_factory=_default_user)
    #: Where tasks run: `local` (forked worker processes) or `ray`.
    executor: str = "local"
    #: The Ray cluster for `executor = "ray"`: `auto`, `local` or an address.
    ray_address: str = "auto"
    #: How many GPUs local tasks may use (`--gpus`); None: those detected on this machine.
    gpus: int | None = None
    #: How the local executor starts tasks: `fork` or `spawn`; None: spawn on macOS, else fork.
    start_method: str | None = None
    #: The online feature store: `sqlite:///path` or `redis://host:port/db`; None: an
    #: `online.db` beside the metadata database (`features.online.open_online_store`).
    online_store: str | None = None

    @classmethod
    def current(cls) -> Config:
        """The configuration of this process, read on first use."""
        global _current
        if _current is None:
            _current = cls.load()
        return _current

    @classmethod
    def reload(cls) -> Config:
        """Read the configuration again and make it this process's; returns it."""
        global _current
        _current = cls.load()
        return _current

    @classmethod
    def load(cls) -> Config:
        """Read the environment and the file now (`current()` is what callers want)."""
        names = setting_names()
        settings = _file_settings(names)
        for key in names:
            value = os.environ.get(_ENV_PREFIX + key.upper())
            if value:
                settings[key] = value
        found = None
        if "datastore" not in settings or "metadata" not in settings:
            with contextlib.suppress(FileNotFoundError):  # the current folder was deleted
                found = find_store(Path.cwd())
        if "datastore" not in settings and found is not None:
            settings["datastore"] = str(found)
        if "metadata" not in settings:
            # The database lives in the datastore's folder; a datastore elsewhere (s3://...)
            # keeps it in the project's store, found like the datastore (else ./.shipyard).
            folder = _local_folder(settings.get("datastore", STORE_DIR)) or found
            settings["metadata"] = f"sqlite:///{folder or STORE_DIR}/metadata.db"
        known: dict[str, Any] = dict(settings)
        if "gpus" in known:
            known["gpus"] = _count(known["gpus"], "SHIPYARD_GPUS")
        return cls(**known)


def _count(value: str, name: str) -> int:
    if not value.isdigit():
        raise ConfigError(f"{name} must be a number of GPUs (0 or more), not {value!r}")
    return int(value)


_current: Config | None = None
