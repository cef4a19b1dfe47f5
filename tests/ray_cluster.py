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
    #: Where the cluster's nodes keep their logs (and this helper its files).
    workdir: Path

    @property
    def port(self) -> int:
        return int(self.address.rpartition(":")[2])


@dataclass(frozen=True)
class RayNode:
    """A node that joined a cluster, to be killed as a machine is lost."""

    process: subprocess.Popen[bytes]

    def kill(self) -> None:
        """SIGKILL the node's raylet and every process it started: nothing is drained."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@contextlib.contextmanager
def ray_head(
    num_cpus: int, num_gpus: int = 0, timeout: float = 120, ray_env: dict[str, str] | None = None
) -> Iterator[RayCluster]:
    """Start a head node with a fixed number of CPUs (and declared GPUs).

    Ray's ports listen on every interface whatever the node address, so the cluster gets a
    token of its own (never the user's ~/.ray/auth_token) and only the tests' drivers know
    it. `ray_env` sets Ray's own settings (`RAY_...` variables) for the head's services.
    """
    port = _free_port()
    workdir = Path(tempfile.mkdtemp(prefix="shipyard-ray-"))
    token = workdir / "auth_token"
    token.write_text(secrets.token_hex(32))
    token.chmod(0o600)
    env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)}
    options = ["--head", "--port", str(port), "--include-dashboard", "false"]
    try:
        with _ray_start(
            options, num_cpus, num_gpus, {**env, **(ray_env or {})}, workdir / "head.log", timeout
        ):
            yield RayCluster(f"127.0.0.1:{port}", env, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def ray_node(
    cluster: RayCluster, num_cpus: int, num_gpus: int = 0, timeout: float = 120
) -> Iterator[RayNode]:
    """Join one more node to `cluster`, on this machine: a raylet of its own."""
    log_path = Path(tempfile.mkstemp(prefix="node-", suffix=".log", dir=cluster.workdir)[1])
    options = ["--address", cluster.address]
    with _ray_start(options, num_cpus, num_gpus, cluster.env, log_path, timeout) as process:
        yield RayNode(process)


@contextlib.contextmanager
def _ray_start(
    options: list[str],
    num_cpus: int,
    num_gpus: int,
    env: dict[str, str],
    log_path: Path,
    timeout: float,
) -> Iterator[subprocess.Popen[bytes]]:
    """`ray start --block` on 127.0.0.1, until it says it started; stopped afterwards.

    `--block` keeps the node's processes under one parent, in a session of their own, so
    stopping that parent stops exactly this node and not another one on the machine.
    """
    ray = Path(sys.executable).with_name("ray")
    command = [
        str(ray), "start", *options, "--block",
        "--node-ip-address", "127.0.0.1",
        "--num-cpus", str(num_cpus),
        "--num-gpus", str(num_gpus),
        "--disable-usage-stats",
    ]  # fmt: skip
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout
        while STARTED not in log_path.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"`ray start` did not start:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)  # drains, then stops the node's processes
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
