"""The load generator of the scoring benchmark: `wrk`, driven by `load.lua`.

wrk is C with an event loop per thread: one thread keeps 16 keep-alive connections busy for
a few percent of a core, where a Python client needed most of one of the machine's two
cores and so competed with the server it measured. `load.lua` counts only HTTP 200 replies
that hold predictions as correct and reports wrk's latency percentiles (HdrHistogram, in
microseconds) as JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import BENCH_DIR

SCRIPT = BENCH_DIR / "load.lua"
# Longer than any sane reply: wrk leaves a timed-out request out of its latency figures,
# so a timeout is counted as a failure rather than hidden in the tail.
TIMEOUT_SECONDS = 10


class LoadGeneratorMissing(RuntimeError):
    """wrk is not installed and cannot be installed from here."""


def ensure_wrk() -> str:
    """The path of `wrk`, installing Debian's package first when running as root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        install = ["apt-get", "install", "-y", "-q", "wrk"]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.run(install, env=env, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
            subprocess.run(install, env=env, capture_output=True, check=True)
        found = shutil.which("wrk")
        if found:
            return found
    raise LoadGeneratorMissing(
        "the serving benchmark needs the load generator wrk: install it with "
        "`sudo apt-get install wrk` (Debian, Ubuntu), `sudo dnf install wrk` or "
        "`brew install wrk`, then run `make bench` again"
    )


@dataclass(frozen=True)
class Load:
    """One wrk run: correct replies, everything else, and the latency percentiles in ms."""

    seconds: float
    correct: int
    wrong: int
    socket_errors: dict[str, int]
    latency_ms: dict[str, float]

    @property
    def failures(self) -> int:
        return self.wrong + sum(self.socket_errors.values())

    @property
    def ok(self) -> bool:
        """A run counts only if every request got a correct reply, and there were some."""
        return self.correct > 0 and self.failures == 0

    @property
    def throughput(self) -> float:
        """Correct replies per second."""
        return self.correct / self.seconds

    def to_json(self) -> dict[str, object]:
        return {
            "seconds": self.seconds,
            "correct": self.correct,
            "wrong": self.wrong,
            "socket_errors": self.socket_errors,
            "throughput": self.throughput,
            "latency_ms": self.latency_ms,
            "ok": self.ok,
        }


def run_wrk(url: str, bodies: list[bytes], connections: int, seconds: float) -> Load:
    """Send `bodies` round-robin to `url` from `connections` keep-alive connections on one
    wrk thread for `seconds`."""
    with tempfile.TemporaryDirectory(prefix="shipyard-wrk-") as tmp:
        body_file, out = Path(tmp) / "bodies.jsonl", Path(tmp) / "out.json"
        body_file.write_bytes(b"".join(body.replace(b"\n", b" ") + b"\n" for body in bodies))
        argv = [ensure_wrk(), "--threads", "1", "--connections", str(connections)]
        argv += ["--duration", f"{seconds:g}s", "--timeout", f"{TIMEOUT_SECONDS}s"]
        argv += ["--script", str(SCRIPT), url]
        env = {**os.environ, "WRK_BODIES": str(body_file), "WRK_OUT": str(out)}
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=seconds + 60)
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"wrk failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
        figures = json.loads(out.read_text())
    return Load(
        seconds=figures["seconds"],
        correct=figures["correct"],
        wrong=figures["wrong"],
        socket_errors=figures["socket_errors"],
        latency_ms={key: us / 1000 for key, us in figures["latency_us"].items()},
    )
