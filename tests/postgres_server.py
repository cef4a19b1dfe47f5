"""A throwaway PostgreSQL server on 127.0.0.1 for the tests, started from the system binaries."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def find_binaries() -> Path | None:
    """The newest PostgreSQL `bin` directory that has initdb and pg_ctl, or None."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True)
    for directory in candidates:
        if Path(directory, "initdb").exists() and Path(directory, "pg_ctl").exists():
            return Path(directory)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _version(path: str) -> float:
    try:
        return float(Path(path).parent.name)
    except ValueError:
        return 0.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres_user(command: list[str]) -> list[str]:
    # initdb refuses to run as root; CI runs as root, developers usually do not.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def temporary_server(binaries: Path) -> Iterator[str]:
    """Start a fresh cluster, yield an SQLAlchemy URL to an empty database, then remove it."""
    data = Path(tempfile.mkdtemp(prefix="shipyard-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
    port = _free_port()
    run = lambda *cmd: subprocess.run(  # noqa: E731
        _as_postgres_user(list(cmd)), check=True, capture_output=True, text=True, timeout=120
    )
    try:
        run(str(binaries / "initdb"), "-D", str(data / "db"), "-A", "trust", "-U", "postgres")
        options = f"-p {port} -c listen_addresses=127.0.0.1 -k {data} -c fsync=off"
        run(
            str(binaries / "pg_ctl"),
            "-D",
            str(data / "db"),
            "-o",
            options,
            "-l",
            str(data / "log"),
            "-w",
            "start",
        )
        try:
            run(
                str(binaries / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "shipyard_test",
            )
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/shipyard_test"
        finally:
            run(str(binaries / "pg_ctl"), "-D", str(data / "db"), "-m", "immediate", "stop")
    finally:
        shutil.rmtree(data, ignore_errors=True)
