"""A throwaway Redis server on 127.0.0.1 for the tests, started from the system binary.

It keeps nothing on disk (no RDB snapshots, no append-only file) and dies with the test
process: the kernel sends it SIGTERM when its parent exits (PR_SET_PDEATHSIG), so even a
killed test session leaves no server behind.
"""

from __future__ import annotations

import ctypes
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def find_binary() -> Path | None:
    """/usr/bin/redis-server, or the one on PATH, or None."""
    if Path("/usr/bin/redis-server").is_file():
        return Path("/usr/bin/redis-server")
    found = shutil.which("redis-server")
    return Path(found) if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@contextmanager
def temporary_server(binary: Path) -> Iterator[str]:
    """Start a server on a free port, yield its `redis://` URL, stop it."""
    import redis

    folder = tempfile.mkdtemp(prefix="shipyard-redis-")
    port = _free_port()
    options = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    server = subprocess.Popen(
        [str(binary), *options, "--dir", folder],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.ConnectionError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {port}") from None
                time.sleep(0.02)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)
