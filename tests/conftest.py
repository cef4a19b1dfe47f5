"""Fixtures shared by the whole suite: an isolated datastore + metadata DB per test."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

from shipyard.config import Config

FLOWS = Path(__file__).parent / "runtime" / "flows"


@pytest.fixture(autouse=True)
def configuration_read_again_after_each_test() -> Iterator[None]:
    """The configuration is read once per process; a test that changes SHIPYARD_* (through
    monkeypatch, undone before this runs) must not leave its configuration to the next."""
    yield
    Config.reload()


def missing_service(message: str) -> NoReturn:
    """Skip a test whose service is not here, but fail it under CI (`CI=true`, which .ci/run
    exports): a CI run must never pass by skipping what it was meant to test."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """An SQLAlchemy URL of a real PostgreSQL server: the one given, or one started here.

    Under CI a missing server is a failure, never a skip: .ci/run installs PostgreSQL.
    """
    given = os.environ.get("SHIPYARD_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    from .postgres_server import find_binaries, temporary_server

    binaries = find_binaries()
    if binaries is None:
        message = (
            "PostgreSQL is not installed: `apt-get install postgresql` (or set "
            "SHIPYARD_TEST_POSTGRES_URL to a server)"
        )
        missing_service(message)
    with temporary_server(binaries) as url:
        yield url


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """The `redis://` URL of a real Redis server started here on 127.0.0.1 (nothing persisted;
    it stops with the session). Under CI a missing binary is a failure: .ci/run installs it."""
    from .redis_server import find_binary, temporary_server

    binary = find_binary()
    if binary is None:
        missing_service("redis-server is not installed: `apt-get install redis-server`")
    with temporary_server(binary) as url:
        yield url


@dataclass
class Home:
    """Where a test's runs are stored; `run_flow` runs a flow file for real, in a subprocess."""

    root: Path
    env: dict[str, str]

    def run_flow(
        self, flow: str | Path, *args: str, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        path = Path(flow) if Path(flow).is_absolute() else FLOWS / flow
        return subprocess.run(
            [sys.executable, str(path), *args],
            env=self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture
def pg_url(postgres_server: str) -> Iterator[str]:
    """A URL whose connections see only a new, empty schema (dropped after the test)."""
    from sqlalchemy import create_engine, make_url, text

    schema = f"shipyard_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(postgres_server).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Home]:
    datastore = tmp_path / "store"
    settings = {
        "SHIPYARD_DATASTORE": str(datastore),
        "SHIPYARD_METADATA": f"sqlite:///{datastore / 'metadata.db'}",
        "SHIPYARD_USER": "tester",
        "SHIPYARD_CONFIG": str(tmp_path / "no-config.toml"),
    }
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    Config.reload()
    from shipyard.client import default_namespace

    default_namespace()
    yield Home(tmp_path, {**os.environ, **settings})


@pytest.fixture(params=["fork", "spawn"])
def each_start_method(
    request: pytest.FixtureRequest, home: Home, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Run the test once per way the local executor starts tasks (SHIPYARD_START_METHOD):
    modules that specify the local executor's behaviour use it, since both must keep it."""
    method: str = request.param
    monkeypatch.setenv("SHIPYARD_START_METHOD", method)
    home.env["SHIPYARD_START_METHOD"] = method
    Config.reload()
    return method
