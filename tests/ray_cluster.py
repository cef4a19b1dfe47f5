"""A real Ray cluster for the tests: `ray start --head` on this machine, stopped afterwards."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

STARTED = "Ray runtime started"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class RayCluster:
    address: str
    #: What a driver's environment needs to join: the cluster's own authentication token.
    env: dict[str, str]

    @property
    def port(self) -> int:
        return int(self.address.rpartition(":")[2])


@contextlib.contextmanager
def ray_head(num_cpus: int, num_gpus: int = 0, timeout: float = 120) -> Iterator[RayCluster]:
    """Start a head node with a fixed number of CPUs (and declared GPUs).

    `--block` keeps the node's processes under one parent, so stopping that parent stops
    exactly this cluster and not another one on the machine. Ray's ports listen on every
    interface whatever the node address, so the cluster gets a token of its own (never the
    user's ~/.ray/auth_token) and only the tests' drivers know it.
    """
    ray = Path(sys.executable).with_name("ray")
    port = _free_port()
    workdir = Path(tempfile.mkdtemp(prefix="shipyard-ray-"))
    token = workdir / "auth_token"
    token.write_text(secrets.token_hex(32))
    token.chmod(0o600)
    env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)}
    log_path = workdir / "head.log"
    command = [
        str(ray), "start", "--head", "--block",
        "--port", str(port),
        "--node-ip-address", "127.0.0.1",
        "--num-cpus", str(num_cpus),
        "--num-gpus", str(num_gpus),
        "--include-dashboard", "false",
        "--disable-usage-stats",
    ]  # fmt: skip
    with log_path.open("w") as log:
        head = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout
        while STARTED not in log_path.read_text():
            if head.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"`ray start --head` did not start:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield RayCluster(f"127.0.0.1:{port}", env)
    finally:
        with contextlib.suppress(ProcessLookupError):
            head.send_signal(signal.SIGTERM)  # drains, then stops the node's processes
        try:
            head.wait(60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(head.pid, signal.SIGKILL)
            head.wait()
        shutil.rmtree(workdir, ignore_errors=True)
