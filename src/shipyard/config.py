"""The one configuration object: environment, then ~/.shipyard/config.toml, then defaults.

It is read once per process (`Config.current()`), not by every object that needs it: parsing
the file and looking up the user cost more than a client object itself. A process that
changes `SHIPYARD_*` afterwards says so with `Config.reload()`. Forked task workers inherit
the configuration of the run that forked them; child processes read their own environment.
"""

from __future__ import annotations

import getpass
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.exceptions import ShipyardError

_ENV_PREFIX = "SHIPYARD_"
_DEFAULT_DIR = ".shipyard"
_KEYS = ("datastore", "metadata", "user", "executor", "ray_address", "gpus", "start_method")


def _config_file() -> Path:
    return Path(os.environ.get("SHIPYARD_CONFIG", Path.home() / ".shipyard" / "config.toml"))


def _file_settings() -> dict[str, str]:
    path = _config_file()
    if not path.is_file():
        return {}
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return {str(k).lower(): str(v) for k, v in data.items()}


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

    datastore: str = _DEFAULT_DIR
    metadata: str = f"sqlite:///{_DEFAULT_DIR}/metadata.db"
    user: str = field(default_factory=_default_user)
    #: Where tasks run: `local` (forked worker processes) or `ray`.
    executor: str = "local"
    #: The Ray cluster for `executor = "ray"`: `auto`, `local` or an address.
    ray_address: str = "auto"
    #: How many GPUs local tasks may use (`--gpus`); None: those detected on this machine.
    gpus: int | None = None
    #: How the local executor starts tasks: `fork` or `spawn`; None: spawn on macOS, else fork.
    start_method: str | None = None

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
        settings = _file_settings()
        for key in _KEYS:
            value = os.environ.get(_ENV_PREFIX + key.upper())
            if value:
                settings[key] = value
        known: dict[str, Any] = {k: v for k, v in settings.items() if k in _KEYS}
        if "gpus" in known:
            known["gpus"] = _count(known["gpus"], "SHIPYARD_GPUS")
        if "datastore" in known and "metadata" not in known and "://" not in known["datastore"]:
            # A custom local datastore keeps its metadata beside it unless told otherwise.
            known["metadata"] = f"sqlite:///{Path(known['datastore']) / 'metadata.db'}"
        return cls(**known)


def _count(value: str, name: str) -> int:
    if not value.isdigit():
        raise ShipyardError(f"{name} must be a number of GPUs (0 or more), not {value!r}")
    return int(value)


_current: Config | None = None
