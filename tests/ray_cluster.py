"""A real Ray cluster for the tests: `ray start --head` on this machine, stopped afterwards."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

STARTED = "Ray runtime started"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def ray_head(num_cpus: int, num_gpus: int = 0, timeout: float = 120) -> Iterator[str]:
    """Start a head node with a fixed number of CPUs (and declared GPUs); yield its address.

    `--block` keeps the node's processes under one parent, so stopping that parent stops
    exactly this cluster and not another one on the machine.
    """
    ray = Path(sys.executable).with_name("ray")
    port = _free_port()
    log_path = Path(tempfile.mkstemp(prefix="shipyard-ray-", suffix=".log")[1])
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
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + timeout
        while STARTED not in log_path.read_text():
            if head.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"`ray start --head` did not start:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            head.send_signal(signal.SIGTERM)  # drains, then stops the node's processes
        try:
            head.wait(60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(head.pid, signal.SIGKILL)
            head.wait()
        log_path.unlink(missing_ok=True)
